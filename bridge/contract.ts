/**
 * The bridge contract between the renderer and the launcher core, declared once: each method's name,
 * its parameters and its result as zod schemas (BRIDGE below). The core validates calls against it
 * (main/core/bridge.ts), the Electron preload (preload/index.ts) and the web shell client
 * (renderer/src/bridge/webShellClient.ts) are generated from its method list, and PortholeApi is its
 * type. A new method is one entry here and its implementation in the core.
 * The renderer never sees refresh tokens or VNC secrets: only short-lived connect URLs.
 */
import { z } from 'zod';
import { AuthProviders, ConnectResponse, EnrolledDevice, Me, Session } from '../cluster-agent/contract/index.js';

export const SignInRequest = z.object({ agentUrl: z.string().max(2048), username: z.string().max(256), password: z.string().max(4096) });
export type SignInRequest = z.infer<typeof SignInRequest>;

export const LauncherState = z.object({
  signedIn: z.boolean(),
  agentUrl: z.string().optional(),
  user: z.object({ name: z.string(), groups: z.array(z.string()) }).optional(),
  /** true when the core could restore a sign-in (refresh token from the OS keychain) */
  restored: z.boolean().optional(),
  /** present when the OS keychain cannot be used (missing, locked): the sentence the launcher shows */
  keychain: z.object({ available: z.literal(false), message: z.string() }).optional(),
});
export type LauncherState = z.infer<typeof LauncherState>;

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
  /** while unreachable: ms until the core asks the agent again (backing off), and which try that is */
  retryInMs?: number;
  attempt?: number;
}
/** Admin mode: one line of a step's progress (doctor, install, uninstall), as the command line prints it. */
export interface AdminEvent {
  type: 'admin';
  line: string;
}
export type LauncherEvent = SessionEvent | AuthEvent | AgentEvent | AdminEvent;

/**
 * How this device decodes video: what the launcher's shell knows (Electron asks Chromium's GPU
 * process; a plain browser knows nothing it can tell the page) and the person's hardware-decode
 * setting. The renderer adds what the page itself measures (mediaCapabilities per codec, the live
 * stream's decoder).
 */
export const DeviceReport = z.object({
  shell: z.enum(['electron', 'browser']),
  /** hardware decoding is on (switches given to Chromium at start) */
  hardwareDecode: z.object({
    /** the person's setting; absent where the shell cannot change it (a browser) */
    enabled: z.boolean().optional(),
    /** the setting differs from what this run started with: it applies after a restart */
    restartNeeded: z.boolean(),
    /** true/false when the shell knows, null when it cannot tell (a browser: see chrome://gpu) */
    active: z.boolean().nullable(),
    /** one sentence: whether hardware decode is in use and, if not, why */
    reason: z.string(),
  }),
  /** Chromium's feature status where the shell reports it (app.getGPUFeatureStatus()), e.g. video_decode */
  gpuFeatures: z.record(z.string(), z.string()).optional(),
  /** the GPUs Chromium sees, as vendor/device names */
  gpus: z.array(z.string()).optional(),
});
export type DeviceReport = z.infer<typeof DeviceReport>;

/**
 * The device's launcher policy as the app applies it (main/core/policy.ts reads the file): each
 * setting with its value and where it came from. A setting from the policy is managed: the app shows
 * it as such and refuses to change it.
 */
/** `flag`: the command line turned it on for this run (`--admin`) */
const setting = <T extends z.ZodType>(value: T) => z.object({ value, source: z.enum(['policy', 'default', 'flag']) });
export const SIGN_IN_METHODS = ['password', 'oidc'] as const;
export const CLIPBOARD_DIRECTIONS = ['both', 'to-desktop', 'from-desktop', 'none'] as const;
export const EffectivePolicy = z.object({
  /** the policy file read, or null when there is none */
  file: z.string().nullable(),
  agentUrl: setting(z.string().nullable()),
  kiosk: setting(z.boolean()),
  autoStartTemplate: setting(z.string().nullable()),
  /** kiosk: sign out after this long without input; null: never */
  idleSignOutSeconds: setting(z.number().nullable()),
  signInMethods: setting(z.array(z.enum(SIGN_IN_METHODS))),
  protocols: setting(z.array(z.enum(['webrtc', 'vnc']))),
  /** null: the person's own setting on this device */
  hardwareDecode: setting(z.boolean().nullable()),
  clipboard: setting(z.enum(CLIPBOARD_DIRECTIONS)),
  admin: setting(z.boolean()),
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;

/** Errors cross the bridge as data, so the renderer can show the sentence and branch on the code. */
export interface BridgeError {
  code: string;
  message: string;
}
export type BridgeResult<T> = { ok: true; value: T } | { ok: false; error: BridgeError };

const Id = z.string().min(1).max(200);
const Done = z.null();

/** Every method the core serves over IPC and the web shell socket: name -> [parameters], result. */
export const BRIDGE = {
  getState: { params: z.tuple([]), result: LauncherState },
  /** the device's policy: every setting, its value and whether the policy fixes it */
  policy: { params: z.tuple([]), result: EffectivePolicy },
  signIn: { params: z.tuple([SignInRequest]), result: LauncherState },
  /** the workspace saved when the agent last answered (encrypted on disk), for when it does not: null if none */
  offlineWorkspace: {
    params: z.tuple([]),
    /** tlsFingerprint: SHA-256 of the https agent's certificate when it was saved */
    result: z.object({ me: Me, sessions: z.array(Session), savedAt: z.number(), tlsFingerprint: z.string().optional() }).nullable(),
  },
  /** what the agent's sign-in screen offers (password, "Sign in with <company>"); no sign-in needed */
  signInOptions: { params: z.tuple([z.string().min(1).max(2048)]), result: AuthProviders },
  /** starts a company sign-in (OpenID Connect): the page opens `url` in a new browser window */
  startCompanySignIn: { params: z.tuple([z.string().min(1).max(2048)]), result: z.object({ url: z.string() }) },
  /** resolves once the person signed in at the issuer (or refuses with the reason) */
  finishCompanySignIn: { params: z.tuple([]), result: LauncherState },
  signOut: { params: z.tuple([]), result: Done },
  /** "forget this device": signs out and removes everything Porthole keeps here (saved workspaces and their key) */
  forgetDevice: { params: z.tuple([]), result: LauncherState },
  /** this device's enrolment at that agent (a kiosk), or null */
  deviceEnrollment: { params: z.tuple([z.string().min(1).max(2048)]), result: EnrolledDevice.nullable() },
  /** enrols this device at that agent with a one-time code from the administrator; the key stays in the keychain */
  enrollDevice: { params: z.tuple([z.string().min(1).max(2048), z.string().min(1).max(40)]), result: EnrolledDevice },
  /** "try now" while the agent is out of reach: asks it at once instead of at the next retry */
  retryAgentNow: { params: z.tuple([]), result: z.object({ reachable: z.boolean() }) },
  me: { params: z.tuple([]), result: Me },
  listSessions: { params: z.tuple([]), result: z.array(Session) },
  startSession: { params: z.tuple([z.string().min(1).max(200)]), result: Session },
  stopSession: { params: z.tuple([Id]), result: Done },
  /**
   * a fresh single-use connect URL; call again for every (re)connect. `takeOver`: the person asked to
   * open the desktop here (ends another device's stream of it); without it, while another device shows
   * it, the answer is the error `opened_elsewhere`
   */
  connect: { params: z.tuple([Id, z.object({ takeOver: z.boolean() }).optional()]), result: ConnectResponse },
  /** how this device decodes video, and why hardware decode is or is not in use */
  deviceReport: { params: z.tuple([]), result: DeviceReport },
  /** turns hardware video decoding on or off for the next start of the app; answers the new report */
  setHardwareDecode: { params: z.tuple([z.boolean()]), result: DeviceReport },
} as const;

/**
 * Admin mode's own bridge surface (setting up the agent in a cluster): a separate declaration, served
 * on a separate socket path only where the policy allows admin mode or the launcher was started with
 * `--admin`. A normal session's page has no way to reach it.
 */
export const AdminTarget = z.object({
  /** the kubeconfig file; empty: $KUBECONFIG or ~/.kube/config */
  kubeconfig: z.string().max(4096),
  context: z.string().max(253).optional(),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace is lower-case letters, digits and "-"'),
  image: z.string().max(512).optional(),
});
export type AdminTarget = z.infer<typeof AdminTarget>;
export const AdminCheck = z.object({ id: z.string(), level: z.enum(['ok', 'warning', 'error']), sentence: z.string(), fix: z.string().optional() });
export const AdminDoctorReport = z.object({ server: z.string(), version: z.string().optional(), checks: z.array(AdminCheck), ok: z.boolean() });
export const AdminPlannedObject = z.object({ id: z.string(), kind: z.string(), name: z.string(), namespace: z.string().optional(), action: z.enum(['create', 'update', 'unchanged']) });
export const AdminVerifyStep = z.object({ step: z.enum(['readyz', 'session']), ok: z.boolean(), sentence: z.string(), ms: z.number() });
export const ADMIN_BRIDGE = {
  /** the contexts of a kubeconfig file (empty: the default one) */
  adminContexts: { params: z.tuple([z.string().max(4096)]), result: z.object({ current: z.string().optional(), contexts: z.array(z.object({ name: z.string(), server: z.string().optional(), namespace: z.string().optional() })) }) },
  adminDoctor: { params: z.tuple([AdminTarget]), result: AdminDoctorReport },
  /** a server-side-apply dry run of the install: what each object would do */
  adminPlan: { params: z.tuple([AdminTarget]), result: z.array(AdminPlannedObject) },
  /** doctor, then install or upgrade with progress (AdminEvent lines) and a wait for the agent */
  adminInstall: { params: z.tuple([AdminTarget]), result: z.object({ objects: z.array(AdminPlannedObject), seconds: z.number() }) },
  /** the agent's /readyz through its Service, then a smoke-test session started and removed (AdminEvent lines too) */
  adminVerify: { params: z.tuple([AdminTarget]), result: z.object({ ok: z.boolean(), steps: z.array(AdminVerifyStep) }) },
  /** removes the install, keeping the CRDs and (unless `deleteHomes`) the people's home volumes and the namespace */
  adminUninstall: { params: z.tuple([AdminTarget, z.object({ deleteHomes: z.boolean() })]), result: z.object({ deleted: z.number(), kept: z.array(z.string()) }) },
  /** the installed agent: replicas wanted and available, its image */
  adminAgent: { params: z.tuple([AdminTarget]), result: z.object({ image: z.string(), replicas: z.number(), available: z.number() }) },
  adminTemplates: { params: z.tuple([AdminTarget]), result: z.array(z.object({ name: z.string(), spec: z.record(z.string(), z.unknown()) })) },
  /** creates or changes a Template; the API server checks it against the CRD's schema (`dryRun`: only that) */
  adminSaveTemplate: { params: z.tuple([AdminTarget, z.object({ name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'template names are lower-case letters, digits and "-"'), spec: z.record(z.string(), z.unknown()), dryRun: z.boolean() })]), result: z.null() },
  adminDeleteTemplate: { params: z.tuple([AdminTarget, z.string().max(63)]), result: z.null() },
  /** every user's sessions */
  adminSessions: { params: z.tuple([AdminTarget]), result: z.array(z.object({ name: z.string(), user: z.string(), template: z.string(), phase: z.string(), startedAt: z.string().optional() })) },
  /** ends a session (its home stays) */
  adminStopSession: { params: z.tuple([AdminTarget, z.string().max(63)]), result: z.null() },
} as const;
export type AdminMethod = keyof typeof ADMIN_BRIDGE;
export const ADMIN_METHODS = Object.keys(ADMIN_BRIDGE) as AdminMethod[];
type AdminCall<M extends AdminMethod> = (...args: z.input<(typeof ADMIN_BRIDGE)[M]['params']>) => Promise<z.output<(typeof ADMIN_BRIDGE)[M]['result']> | (z.output<(typeof ADMIN_BRIDGE)[M]['result']> extends null ? void : never)>;
export type AdminApi = { [M in AdminMethod]: AdminCall<M> } & { onEvent(listener: (event: LauncherEvent) => void): () => void };
export const WEBSHELL_ADMIN_PATH = '/admin-bridge';

export type BridgeMethod = keyof typeof BRIDGE;
export const BRIDGE_METHODS = Object.keys(BRIDGE) as BridgeMethod[];
type Call<M extends BridgeMethod> = (...args: z.input<(typeof BRIDGE)[M]['params']>) => Promise<z.output<(typeof BRIDGE)[M]['result']> | (z.output<(typeof BRIDGE)[M]['result']> extends null ? void : never)>;
/** The methods, typed from BRIDGE. */
export type BridgeApi = { [M in BridgeMethod]: Call<M> };

export interface PortholeApi extends BridgeApi {
  /** returns an unsubscribe function */
  onEvent(listener: (event: LauncherEvent) => void): () => void;
}

export class PortholeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** the agent's reason code where it matters to the core (e.g. device_revoked) */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'PortholeError';
  }
}

declare global {
  interface Window {
    porthole?: PortholeApi;
    /** Electron: admin mode's surface (refused unless the device allows admin mode) */
    portholeAdmin?: AdminApi;
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
