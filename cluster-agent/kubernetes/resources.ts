/**
 * The porthole.dev/v1alpha1 custom resources as TypeScript types, and the names and labels every
 * Kubernetes-facing module shares. Pure: no client, no I/O.
 */
import { createHash } from 'node:crypto';
import type { V1ObjectMeta, V1Toleration } from '@kubernetes/client-node';

export const GROUP = 'porthole.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const SESSION_PLURAL = 'sessions';
export const TEMPLATE_PLURAL = 'templates';

/** The VNC port every session pod listens on; the NetworkPolicy opens only this one to the agent. */
export const VNC_PORT = 5901;
/** The streamer's signalling port in a session pod (the agent relays to it; only the agent may reach it). */
export const STREAMER_PORT = 8443;

export const LABELS = {
  user: 'porthole.dev/user',
  session: 'porthole.dev/session',
  template: 'porthole.dev/template',
  /** value "session" on every object the runtime creates for a session (pods, secrets) */
  component: 'app.kubernetes.io/component',
  name: 'app.kubernetes.io/name',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  /** "true" on a pre-started pod of a template's warm pool that no session has claimed yet */
  warm: 'porthole.dev/warm',
} as const;

/** Raw user names (may hold "_") are kept here: labels and object names need a safe form. */
export const USER_ANNOTATION = 'porthole.dev/user-name';

export const AGENT_NAME = 'porthole-agent';
/** app.kubernetes.io/name of every desktop pod (session and warm-pool); the NetworkPolicies select on it. */
export const DESKTOP_NAME = 'porthole-desktop';

export type Quantity = string | number;

export interface TemplateCRSpec {
  displayName?: string;
  description?: string;
  image: string;
  resources?: { requests?: Record<string, Quantity>; limits?: Record<string, Quantity> };
  /** count of nvidia.com/gpu; 0 or absent = none */
  gpu?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  /** seconds without a client before the session is stopped; 0 = never */
  idleTimeoutSeconds?: number;
  allowedUsers?: string[];
  allowedGroups?: string[];
  /** its sessions start and open only from a sign-in on an enrolled device (a kiosk) */
  requireEnrolledDevice?: boolean;
  warmPool?: { replicas: number };
  /** what its sessions stream over; default ['vnc']. With 'webrtc' the pod also runs the streamer. */
  protocols?: Array<'webrtc' | 'vnc'>;
  /** the image with porthole-streamer on PATH; default `image` */
  streamerImage?: string;
  /** extra labels/annotations on the template's pods (ours win on a clash); e.g. for node-local tooling or test chaos */
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
}

export interface TemplateResource {
  apiVersion: typeof API_VERSION;
  kind: 'Template';
  metadata: V1ObjectMeta;
  spec: TemplateCRSpec;
}

export interface SessionCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface SessionCRStatus {
  phase?: 'Pending' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Failed';
  reason?: string;
  message?: string;
  podName?: string;
  podIP?: string;
  startedAt?: string;
  lastActiveAt?: string;
  connectedClients?: number;
  /** when the phase last changed */
  phaseSince?: string;
  /**
   * Open viewer streams per agent replica (key: replica id). Each replica merge-patches only its own
   * key, so replicas never overwrite each other's counts; entries not refreshed for a while are stale.
   */
  /** per replica: its open streams, when it said so, and the devices they come from */
  viewers?: Record<string, { count: number; seenAt: string; devices?: string[] }>;
  conditions?: SessionCondition[];
}

export interface SessionResource {
  apiVersion: typeof API_VERSION;
  kind: 'Session';
  metadata: V1ObjectMeta;
  spec: { user: string; template: string };
  status?: SessionCRStatus;
}

const shortHash = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);

/** Lower-case DNS-label characters only, no leading/trailing "-". */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * Deterministic Session name from user + template, so concurrent start requests converge on one
 * object (the API server's AlreadyExists decides the race). The hash keeps "a_b" and "a-b" apart and
 * the name within 63 characters (it is also the pod name and a label value).
 */
export function sessionName(user: string, template: string): string {
  const base = slug(`${user}-${template}`).slice(0, 50).replace(/-+$/, '');
  return `${base}-${shortHash(user, template)}`;
}

/** The user's home PVC: `home-<user>`; names that are not DNS-safe get a hash so they stay unique. */
export function homeClaimName(user: string): string {
  const s = slug(user);
  return s === user && s.length <= 58 ? `home-${user}` : `home-${s.slice(0, 48)}-${shortHash(user)}`;
}

export const vncSecretName = (session: string) => `${session}-vnc`;

/** A label value for a user: labels allow "_" but must start and end alphanumeric, max 63. */
export function userLabelValue(user: string): string {
  return /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/.test(user) ? user : `${slug(user).slice(0, 50) || 'u'}-${shortHash(user)}`;
}
