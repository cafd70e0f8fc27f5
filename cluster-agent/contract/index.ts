/**
 * The agent's HTTP contract (v1): the one interface between the launcher and the agent.
 * Pure zod, no Node or DOM imports, so the agent (Node), the launcher core (Node) and the
 * renderer (browser) all import the same schemas. The agent publishes them as OpenAPI.
 */
import { z } from 'zod';

export const API_PREFIX = '/api/v1';

export const ErrorCode = z.enum([
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'not_ready',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/**
 * Why a 401 was given, for programs (the message is for people): a sign-in refused, a token expired
 * (refresh and retry) or not valid (sign in again), a refresh token reused (the whole sign-in ended).
 */
export const AuthFailure = z.enum([
  'bad_credentials', 'disabled', 'unusable_name', 'id_token_rejected',
  'token_missing', 'token_expired', 'token_invalid', 'unknown_user',
  'refresh_reused', 'refresh_expired', 'refresh_invalid',
  'connect_token_missing', 'connect_token_expired', 'connect_token_invalid', 'connect_token_reused', 'connect_token_wrong_session',
  // enrolled devices: a proof that does not hold, a revoked device, a person who may sign in only on one, a bad code
  'device_proof_invalid', 'device_revoked', 'device_required', 'enrolment_code_invalid', 'enrolment_code_expired',
]);
export type AuthFailure = z.infer<typeof AuthFailure>;

/** Why a 409 was given where a program should tell the cases apart. */
export const ConflictReason = z.enum([
  /** connect: another device shows this desktop now; `takeOver: true` (a person asking) opens it here */
  'opened_elsewhere',
]);
export type ConflictReason = z.infer<typeof ConflictReason>;

export const ErrorBody = z.object({
  error: z.object({ code: ErrorCode, message: z.string(), reason: z.union([AuthFailure, ConflictReason]).optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** User names double as directory names and Kubernetes label values: keep them boring. */
export const UserName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'user names are 1-32 characters: lower-case letters, digits, "_" or "-", starting with a letter');
export const TemplateName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'template names are lower-case letters, digits and "-"');
export const SessionId = z.string().regex(/^[a-z0-9-]{1,63}$/, 'not a session id');

export const User = z.object({
  name: UserName,
  groups: z.array(z.string()),
});
export type User = z.infer<typeof User>;

export const LoginRequest = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export const TokenResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** seconds until the access token expires */
  expiresIn: z.number().int().positive(),
  user: User,
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export const RefreshRequest = z.object({ refreshToken: z.string().min(1).max(4096) });
export type RefreshRequest = z.infer<typeof RefreshRequest>;

/**
 * Pure: may an OpenID Connect issuer (or its keys) live at this URL? https, or http on a loopback
 * address (a development or test issuer on the same machine). The agent and the launcher both hold to it.
 */
export function allowedIssuerUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return u.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** The launcher ran the authorization code flow with PKCE against the issuer and hands over the ID token. */
export const OidcLoginRequest = z.object({ idToken: z.string().min(1).max(16384) });
export type OidcLoginRequest = z.infer<typeof OidcLoginRequest>;

/** What the sign-in screen offers: a password form, "Sign in with <company>" (OpenID Connect), or both. */
export const AuthProviders = z.object({
  password: z.boolean(),
  oidc: z.object({ issuer: z.string(), clientId: z.string(), scopes: z.array(z.string()) }).optional(),
  /** a guest sign-in without an account (kiosks), when the agent is configured for it */
  guest: z.boolean().optional(),
});
export type AuthProviders = z.infer<typeof AuthProviders>;

/** The agent's public token-signing keys (RFC 7517), the one that signs first; more than one during a rotation. */
export const Jwks = z.object({
  keys: z.array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') })).min(1),
});
export type Jwks = z.infer<typeof Jwks>;

export const Template = z.object({
  name: TemplateName,
  displayName: z.string(),
  description: z.string(),
  /** false when the template cannot start here (e.g. its packages are not installed) */
  available: z.boolean(),
  /** why it is unavailable, as a sentence a person can act on */
  unavailableReason: z.string().optional(),
  /** a sentence the launcher shows with the template, e.g. that its desktops are not isolated from each other */
  warning: z.string().optional(),
  /** protocols the template's sessions can stream over */
  protocols: z.array(z.enum(['vnc', 'webrtc'])),
  /** seconds without a client before the session is stopped; 0 = never */
  idleTimeoutSeconds: z.number().int().nonnegative(),
});
export type Template = z.infer<typeof Template>;

export const Preferences = z.object({
  /** preferred stream, the launcher falls back to VNC */
  protocol: z.enum(['vnc', 'webrtc']).default('vnc'),
  scale: z.enum(['fit', 'none']).default('fit'),
});
export type Preferences = z.infer<typeof Preferences>;

export const Me = z.object({
  user: User,
  templates: z.array(Template),
  preferences: Preferences,
});
export type Me = z.infer<typeof Me>;

export const SessionPhase = z.enum(['Pending', 'Starting', 'Running', 'Stopping', 'Stopped', 'Failed']);
export type SessionPhase = z.infer<typeof SessionPhase>;

export const Session = z.object({
  id: SessionId,
  user: UserName,
  template: TemplateName,
  phase: SessionPhase,
  /** a sentence a person can act on when phase is Failed (and a hint while Pending/Starting) */
  message: z.string().optional(),
  /** machine-readable reason for Failed: ImagePullError, Quota, Unschedulable, Timeout, Crashed, ... */
  reason: z.string().optional(),
  createdAt: z.string(),
  /** when the phase last changed */
  phaseSince: z.string(),
  /** when the session became Running, if it has */
  startedAt: z.string().optional(),
  /** when a client last had a stream open (or is connected now) */
  lastActiveAt: z.string().optional(),
  connectedClients: z.number().int().nonnegative(),
  /** typical seconds from create to Running for this template, when known: the launcher's time estimate */
  expectedStartSeconds: z.number().nonnegative().optional(),
});
export type Session = z.infer<typeof Session>;

export const SessionList = z.object({ sessions: z.array(Session) });
export const TemplateList = z.object({ templates: z.array(Template) });

export const CreateSessionRequest = z.object({ template: TemplateName });
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const IceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

/**
 * POST connect's optional body. `device`: a stable id of the launcher asking (random, not secret), so
 * one person's desktop shows on one device at a time. `takeOver`: the person asked to open it here
 * (a first open, "Open it here"): streams of other devices end with "You opened this desktop on another
 * device". Without it (an automatic reconnect) the agent answers 409 `opened_elsewhere` while another
 * device shows the desktop, so two devices never take it from each other in turn.
 */
export const ConnectRequest = z.object({
  device: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'a device id is 8-64 letters, digits, "_" or "-"').optional(),
  takeOver: z.boolean().optional(),
});
export type ConnectRequest = z.infer<typeof ConnectRequest>;

/**
 * Enrolled devices (kiosks). A device redeems a one-time code from `porthole-agent devices enroll` with
 * the public half of a key only it holds; from then on its sign-ins and refreshes carry the header
 * DEVICE_PROOF_HEADER: a JWT it signs with that key (EdDSA, `sub` = its id, audience
 * DEVICE_PROOF_AUDIENCE, at most two minutes old, a `jti` used once).
 */
export const DEVICE_PROOF_HEADER = 'porthole-device';
export const DEVICE_PROOF_AUDIENCE = 'porthole-device-proof';
export const DevicePublicKey = z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key (43 base64url characters)') }).strict();
export type DevicePublicKey = z.infer<typeof DevicePublicKey>;
export const EnrollDeviceRequest = z.object({ code: z.string().min(1).max(40), publicKey: DevicePublicKey });
export const EnrolledDevice = z.object({ id: z.string(), name: z.string() });
export type EnrolledDevice = z.infer<typeof EnrolledDevice>;

/** The close code a stream gets when the same person opens the desktop on another device. */
export const OPENED_ELSEWHERE_CLOSE = 4409;
export const OPENED_ELSEWHERE_MESSAGE = 'You opened this desktop on another device.';

export const ConnectResponse = z.object({
  /** single-session connect token, already embedded in the URLs below */
  token: z.string(),
  /** the token must be used (stream opened) before this instant */
  expiresAt: z.string(),
  vnc: z.object({ url: z.string() }),
  webrtc: z.object({ url: z.string(), iceServers: z.array(IceServer) }),
});
export type ConnectResponse = z.infer<typeof ConnectResponse>;

export const SessionIdParams = z.object({ id: SessionId });

export const Health = z.object({ status: z.enum(['ok', 'not_ready']), checks: z.record(z.string(), z.string()).optional() });

/** The connect token's query parameter on the stream URLs. */
export const CONNECT_TOKEN_PARAM = 'token';

export const routes = {
  login: `${API_PREFIX}/auth/login`,
  refresh: `${API_PREFIX}/auth/refresh`,
  logout: `${API_PREFIX}/auth/logout`,
  jwks: `${API_PREFIX}/auth/jwks`,
  providers: `${API_PREFIX}/auth/providers`,
  oidcLogin: `${API_PREFIX}/auth/oidc`,
  guestLogin: `${API_PREFIX}/auth/guest`,
  enrollDevice: `${API_PREFIX}/devices/enroll`,
  me: `${API_PREFIX}/me`,
  templates: `${API_PREFIX}/templates`,
  sessions: `${API_PREFIX}/sessions`,
  session: (id: string) => `${API_PREFIX}/sessions/${encodeURIComponent(id)}`,
  connect: (id: string) => `${API_PREFIX}/sessions/${encodeURIComponent(id)}/connect`,
  vnc: (id: string) => `${API_PREFIX}/sessions/${encodeURIComponent(id)}/vnc`,
  webrtc: (id: string) => `${API_PREFIX}/sessions/${encodeURIComponent(id)}/webrtc`,
  openapi: '/api/openapi.json',
} as const;
