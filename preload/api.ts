/**
 * The bridge contract between the renderer and the launcher core. Types only: the Electron preload
 * implements it over IPC, the web shell client over a WebSocket, and the core serves it.
 * The renderer never sees refresh tokens or VNC secrets: only short-lived connect URLs.
 */
import type { ConnectResponse, Me, Session } from '../cluster-agent/contract/index.js';

export interface SignInRequest {
  agentUrl: string;
  username: string;
  password: string;
}

export interface LauncherState {
  signedIn: boolean;
  agentUrl?: string;
  user?: { name: string; groups: string[] };
  /** true when the core could restore a sign-in (refresh token from the OS keychain) */
  restored?: boolean;
}

/** A session as the launcher shows it, with the elapsed time of its current phase. */
export interface SessionEvent {
  type: 'session';
  session: Session;
  /** ms since the session was created (while Pending/Starting), for "starting... 4 s" */
  elapsedMs: number;
}
export interface AuthEvent {
  type: 'auth';
  state: LauncherState;
  /** set when the core lost the sign-in on its own (refresh refused, agent forgot us) */
  message?: string;
}
export interface AgentEvent {
  type: 'agent';
  reachable: boolean;
  message?: string;
}
export type LauncherEvent = SessionEvent | AuthEvent | AgentEvent;

/**
 * How this device decodes video: what the launcher's shell knows (Electron asks Chromium's GPU
 * process; a plain browser knows nothing it can tell the page) and the person's hardware-decode
 * setting. The renderer adds what the page itself measures (mediaCapabilities per codec, the live
 * stream's decoder).
 */
export interface DeviceReport {
  shell: 'electron' | 'browser';
  /** hardware decoding is on (switches given to Chromium at start) */
  hardwareDecode: {
    /** the person's setting; absent where the shell cannot change it (a browser) */
    enabled?: boolean;
    /** the setting differs from what this run started with: it applies after a restart */
    restartNeeded: boolean;
    /** true/false when the shell knows, null when it cannot tell (a browser: see chrome://gpu) */
    active: boolean | null;
    /** one sentence: whether hardware decode is in use and, if not, why */
    reason: string;
  };
  /** Chromium's feature status where the shell reports it (app.getGPUFeatureStatus()), e.g. video_decode */
  gpuFeatures?: Record<string, string>;
  /** the GPUs Chromium sees, as vendor/device names */
  gpus?: string[];
}

/** Errors cross the bridge as data, so the renderer can show the sentence and branch on the code. */
export interface BridgeError {
  code: string;
  message: string;
}
export type BridgeResult<T> = { ok: true; value: T } | { ok: false; error: BridgeError };

export interface PortholeApi {
  getState(): Promise<LauncherState>;
  signIn(req: SignInRequest): Promise<LauncherState>;
  signOut(): Promise<void>;
  me(): Promise<Me>;
  listSessions(): Promise<Session[]>;
  startSession(template: string): Promise<Session>;
  stopSession(id: string): Promise<void>;
  /** a fresh single-use connect URL; call again for every (re)connect */
  connect(id: string): Promise<ConnectResponse>;
  /** how this device decodes video, and why hardware decode is or is not in use */
  deviceReport(): Promise<DeviceReport>;
  /** turns hardware video decoding on or off for the next start of the app; answers the new report */
  setHardwareDecode(enabled: boolean): Promise<DeviceReport>;
  /** returns an unsubscribe function */
  onEvent(listener: (event: LauncherEvent) => void): () => void;
}

/** Method names the core serves over IPC / the web shell socket (everything but onEvent). */
export const BRIDGE_METHODS = [
  'getState',
  'signIn',
  'signOut',
  'me',
  'listSessions',
  'startSession',
  'stopSession',
  'connect',
  'deviceReport',
  'setHardwareDecode',
] as const;
export type BridgeMethod = (typeof BRIDGE_METHODS)[number];

export class PortholeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PortholeError';
  }
}

declare global {
  interface Window {
    porthole?: PortholeApi;
  }
}

/**
 * Web shell wire protocol (JSON text frames on `ws://127.0.0.1:PORT/bridge`), used where Electron is
 * absent. The shell prints `http://127.0.0.1:PORT/#key=SECRET`; the page sends `{hello: SECRET}`
 * first, and the shell also checks that the Origin is its own. Then:
 *   page -> shell: {id, method, params}      shell -> page: {id, result: BridgeResult}
 *   shell -> page: {event: LauncherEvent}
 */
export const WEBSHELL_BRIDGE_PATH = '/bridge';
export type WebShellRequest = { hello: string } | { id: number; method: BridgeMethod; params: unknown[] };
export type WebShellMessage = { id: number; result: BridgeResult<unknown> } | { event: LauncherEvent } | { welcome: true };
