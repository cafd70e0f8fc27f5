/**
 * What the agent asks of a runtime (local processes now, Kubernetes later). The HTTP layer, auth,
 * connect tokens, the gateway and the idle reaper are runtime-agnostic and talk only to this.
 */
import type { EventEmitter } from 'node:events';
import type { Metric } from 'prom-client';
import type { Session, Template } from '../contract/index.js';

/** A template as the runtime knows it: the public view plus who may use it. */
export interface TemplateSpec extends Template {
  /** empty/undefined = everybody */
  allowedUsers?: string[];
  allowedGroups?: string[];
  /** its sessions start and open only from a sign-in on an enrolled device */
  requireEnrolledDevice?: boolean;
}

/** Where something of a session listens: a pod's address, or a Unix socket of a local desktop. */
export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Where the gateway finds a session's VNC server, and the secret the agent answers its VncAuth with. */
export type VncEndpoint = Address & { password: string };

/** Where the agent relays a session's WebRTC signalling, and the per-session secret the streamer wants. */
export type WebRtcEndpoint = Address & { secret: string };

export type StreamProtocol = 'vnc' | 'webrtc';
export interface StreamEndpoints {
  vnc: VncEndpoint;
  webrtc: WebRtcEndpoint;
}

export interface StartResult {
  session: Session;
  /** true when a new session was created; false when the user's existing one was returned */
  created: boolean;
}

/** What a stop was decided on (createdAt has 1 s resolution; startedAt, once Running, has ms). */
export interface StopExpectation {
  createdAt?: string;
  startedAt?: string;
  idleTimeoutSeconds?: number;
}

/** Another replica opened a session's stream on `device` with a takeover, at `at` (ms since the epoch). */
export interface RemoteTakeover {
  session: string;
  device: string;
  at: number;
}

/**
 * Events: 'session' (session: Session) whenever a session's phase, message or activity changes;
 * 'takeover' (RemoteTakeover) when another replica announced one (runtimes served by several replicas).
 * Implementations must persist enough state that a new agent process adopts running desktops.
 */
export interface Runtime extends EventEmitter {
  readonly kind: 'local' | 'kubernetes';
  /** load persisted state, adopt desktops still alive, mark dead ones Failed */
  init(): Promise<void>;
  templates(): Promise<TemplateSpec[]>;
  /** all sessions the runtime knows (all users); the API filters by user */
  list(): Promise<Session[]>;
  get(id: string): Promise<Session | undefined>;
  /** the user's live (not Stopped/Failed) session of that template, else a new one */
  startOrGet(user: string, template: string): Promise<StartResult>;
  /**
   * end the session; the user's home is kept. Idempotent. `expect` (optional; additive) names what the
   * caller decided about: a session of this id with another createdAt (a fresh restart) is left alone,
   * and with idleTimeoutSeconds the runtime stops it only if it is still idle that long.
   */
  stop(id: string, reason?: string, expect?: StopExpectation): Promise<void>;
  /**
   * Where the agent reaches the stream of `protocol`, only for a Running session; RuntimeError
   * 'unavailable' when the session's template does not stream over it.
   */
  streamEndpoint<P extends StreamProtocol>(id: string, protocol: P): Promise<StreamEndpoints[P]>;
  /**
   * the gateway reports stream opens/closes so idle time and connectedClients are tracked; `devices`:
   * the device ids among those streams, for runtimes several agents serve (devicesViewingElsewhere)
   */
  setConnectedClients(id: string, count: number, devices?: readonly string[]): Promise<void>;
  /** stop watching; desktops keep running so the next agent adopts them */
  close(): Promise<void>;
  /**
   * Whether this replica can serve right now (e.g. its caches of the cluster are current); /readyz
   * answers 503 with `message` when not ok. Optional; additive: absent means healthy once init() ran.
   */
  healthy?(): { ok: boolean; message: string };
  /** runtime-specific Prometheus metrics, registered on the agent's /metrics (optional; additive) */
  metrics?(): Metric[];
  /**
   * Tells the other replicas that `device` took the session over now, so they end their streams of it
   * from other devices (roaming across replicas; they emit 'takeover'). Optional; additive: a runtime
   * only one agent serves needs none.
   */
  announceTakeover?(id: string, device: string): Promise<void>;
  /**
   * The devices that show the session through other replicas now (from their fresh reports), so an
   * automatic reconnect of another device is refused there as it is on the replica it came from.
   * Optional; additive, like announceTakeover.
   */
  devicesViewingElsewhere?(id: string): string[];
}

/**
 * What a runtime throws for a request it cannot honour (as opposed to a bug): the HTTP layer maps
 * `code` to its status (not_found 404, bad_request 400, unavailable/not_ready 503, conflict 409) and
 * shows `message`, a sentence a person can act on. Added for the local runtime; additive.
 */
export class RuntimeError extends Error {
  constructor(
    readonly code: 'not_found' | 'bad_request' | 'unavailable' | 'not_ready' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}
