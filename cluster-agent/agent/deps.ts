/** What the HTTP routes need; assembled once in agent.ts (or a test). */
import type { Logger } from 'pino';
import type { Viewers } from './viewers.js';
import type { DeviceRegistry } from './device-registry.js';
import type { Runtime } from '../runtime/types.js';
import type { IceConfig } from './ice-servers.js';
import type { TokenService } from './access-tokens.js';
import type { ConnectedClients } from './connected-clients.js';
import type { HttpLimits } from './http-limits.js';
import type { AgentMetrics } from './metrics.js';
import type { RefreshTokens } from '../state/refresh-tokens.js';
import type { Keyring } from '../state/signing-keys.js';
import type { IdentityProviders } from '../identity/providers.js';

export interface AgentDeps {
  runtime: Runtime;
  identity: IdentityProviders;
  tokens: TokenService;
  refreshTokens: RefreshTokens;
  /** the live signing keys' public halves, for /auth/jwks */
  keyring: Pick<Keyring, 'jwks'>;
  metrics: AgentMetrics;
  clients: ConnectedClients;
  /** which device shows which desktop (roaming: one device at a time) */
  viewers: Viewers;
  /** enrolled devices (kiosks): enrolment, sign-in proofs, revocation */
  devices: DeviceRegistry;
  /** members of these groups sign in only on an enrolled device */
  devicesRequiredForGroups: string[];
  logger: Logger;
  /** base for stream URLs, e.g. https://desktops.example.org; else derived from each request */
  publicUrl?: string;
  /** STUN and TURN for WebRTC streams (TURN credentials are made per viewer and session) */
  ice: IceConfig;
  /** true once runtime.init() finished */
  isReady: () => boolean;
  /** login attempts allowed per IP+username per minute */
  loginAttemptsPerMinute?: number;
  /** timeouts and connection caps of the HTTP server; default DEFAULT_HTTP_LIMITS */
  httpLimits?: HttpLimits;
}
