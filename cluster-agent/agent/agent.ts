/**
 * Assembles a running agent from a runtime and a data dir: keys, token stores, users, metrics,
 * HTTP server, idle reaper. The CLI and the tests both start agents through here.
 */
import { Viewers } from './viewers.js';
import { DeviceRegistry } from './device-registry.js';
import { FileDeviceStore } from '../state/device-file.js';
import type { DeviceStore } from '../state/devices.js';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Runtime } from '../runtime/types.js';
import type { IceConfig } from './ice-servers.js';
import type { ConnectTokenLedger } from '../state/connect-tokens.js';
import { RefreshTokenStore } from '../state/refresh-token-file.js';
import type { RefreshTokens } from '../state/refresh-tokens.js';
import { FileSigningKeyStore } from '../state/signing-key-file.js';
import { LiveKeyring, type SigningKeyStore } from '../state/signing-keys.js';
import { TokenService } from './access-tokens.js';
import { ConnectedClients } from './connected-clients.js';
import { ensureDirectory } from './data-dir.js';
import type { AgentDeps } from './deps.js';
import { httpLimits, type HttpLimits } from './http-limits.js';
import { startIdleReaper } from './idle-reaper.js';
import { createMetrics } from './metrics.js';
import { buildServer } from './server.js';
import type { LdapProvider } from '../identity/ldap.js';
import type { OidcProvider } from '../identity/oidc.js';
import { IdentityProviders, type GuestConfig } from '../identity/providers.js';
import { UserDirectory } from '../identity/user-directory.js';

export interface AgentOptions {
  runtime: Runtime;
  dataDir: string;
  usersFile: string;
  host: string;
  port: number;
  logger: Logger;
  publicUrl?: string;
  /** STUN/TURN for WebRTC streams; default none (host candidates only: same machine or LAN) */
  ice?: IceConfig;
  /** seconds; replaces every template's idle timeout; 0 = never */
  idleTimeoutOverride?: number;
  reaperIntervalMs?: number;
  loginAttemptsPerMinute?: number;
  /** HTTP timeouts and connection caps (tests make them small); default DEFAULT_HTTP_LIMITS */
  httpLimits?: Partial<HttpLimits>;
  /** prom-client default process metrics (off in tests that start several agents) */
  defaultMetrics?: boolean;
  /** where the token-signing keyring is kept; default `<dataDir>/signing-keys.json` (replicas share a Secret instead) */
  signingKeys?: SigningKeyStore;
  /** rotate the signing key by itself when it is this old (seconds); default never (`porthole-agent keys rotate`) */
  keyRotationSeconds?: number;
  /** where refresh tokens live; default `<dataDir>/refresh-tokens.json` (replicas share Secrets instead) */
  openRefreshTokens?: () => Promise<RefreshTokens>;
  /** sign-in against a company directory, beside the users file */
  ldap?: LdapProvider;
  /** sign-in with an OpenID Connect issuer */
  oidc?: OidcProvider;
  /** a guest sign-in for kiosks, with only these templates */
  guest?: GuestConfig;
  /** which connect tokens were used; default in memory (replicas record them in the cluster instead) */
  connectTokenLedger?: ConnectTokenLedger;
  /** enrolled devices; default `<dataDir>/devices.json` (replicas share a Secret instead) */
  deviceStore?: DeviceStore;
  /** members of these groups may sign in only on an enrolled device (config `devices.requiredForGroups`) */
  devicesRequiredForGroups?: string[];
}

export interface RunningAgent {
  /** http://HOST:PORT with the real port */
  url: string;
  app: FastifyInstance;
  deps: AgentDeps;
  sweepIdle: () => Promise<unknown>;
  /** stops serving; desktops keep running for the next agent to adopt */
  close: () => Promise<void>;
}

export function formatListenUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  await ensureDirectory(opts.dataDir);
  const keyring = await new LiveKeyring(opts.signingKeys ?? new FileSigningKeyStore(opts.dataDir), {
    ...(opts.keyRotationSeconds !== undefined ? { rotateEverySeconds: opts.keyRotationSeconds } : {}),
    onError: (err) => opts.logger.warn({ err }, 'could not reload the signing keys; keeping the ones loaded'),
  }).start();
  const identity = new IdentityProviders(new UserDirectory(opts.usersFile, opts.logger), opts.ldap, opts.oidc, opts.guest);
  // A users file that cannot be used is logged (once) by the directory and reported by /readyz.
  if ((await identity.health()).ok && (await identity.localUsers()) === 0) {
    opts.logger.warn({ usersFile: opts.usersFile }, `no users yet; add one with: porthole-agent users add NAME --file ${opts.usersFile} --password-stdin`);
  }
  let ready = false;
  const deps: AgentDeps = {
    runtime: opts.runtime,
    identity,
    tokens: new TokenService(keyring, Date.now, opts.connectTokenLedger),
    keyring,
    refreshTokens: await (opts.openRefreshTokens ?? (() => RefreshTokenStore.open(opts.dataDir)))(),
    metrics: createMetrics(opts.runtime, { defaultMetrics: opts.defaultMetrics }),
    clients: new ConnectedClients(opts.runtime, opts.logger),
    viewers: new Viewers(),
    devices: new DeviceRegistry(opts.deviceStore ?? new FileDeviceStore(opts.dataDir)),
    devicesRequiredForGroups: opts.devicesRequiredForGroups ?? [],
    logger: opts.logger,
    isReady: () => ready,
    ...(opts.publicUrl !== undefined ? { publicUrl: opts.publicUrl } : {}),
    ice: opts.ice ?? { stun: [] },
    ...(opts.loginAttemptsPerMinute !== undefined ? { loginAttemptsPerMinute: opts.loginAttemptsPerMinute } : {}),
    httpLimits: httpLimits(opts.httpLimits),
  };
  const app = await buildServer(deps);
  try {
    await app.listen({ host: opts.host, port: opts.port });
    await opts.runtime.init();
  } catch (err) {
    keyring.stop();
    await app.close();
    throw err;
  }
  ready = true;
  const reaper = startIdleReaper({
    runtime: opts.runtime,
    logger: opts.logger,
    ...(opts.idleTimeoutOverride !== undefined ? { override: opts.idleTimeoutOverride } : {}),
    ...(opts.reaperIntervalMs !== undefined ? { intervalMs: opts.reaperIntervalMs } : {}),
  });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: formatListenUrl(opts.host, port),
    app,
    deps,
    sweepIdle: reaper.sweep,
    close: async () => {
      reaper.stop();
      keyring.stop();
      ready = false;
      await app.close();
      await deps.clients.settled();
      await opts.runtime.close();
    },
  };
}
