/**
 * The launcher core: plain Node (never electron). Implements PortholeApi over the agent's v1 API
 * for both the Electron layer and the web shell.
 */
import type { ConnectResponse, Me, Session } from '../../cluster-agent/contract/index.js';
import type { AgentEvent, EffectivePolicy, LauncherEvent, LauncherState, PortholeApi, SignInRequest } from '../../bridge/contract.js';
import { randomBytes } from 'node:crypto';
import { PortholeError } from '../../bridge/contract.js';
import { createAgentClient, type AgentClient, type FetchFn } from './agent-client.js';
import { Auth, signedOutError } from './auth.js';
import { browserDevice, type DeviceProvider } from './device.js';
import { toPortholeError } from './errors.js';
import { Listeners } from './events.js';
import { stderrLogger, type Logger } from './logger.js';
import { openSecretStore, type SecretStore } from './secret-store.js';
import { SessionFollower } from './session-follower.js';
import { startCompanySignIn, type CompanySignInFlow } from './company-sign-in.js';
import { ProfileCache } from './profile-cache.js';
import { DeviceKeys } from './device-key.js';
import { agentCertificateFingerprint, certificateChange } from './agent-certificate.js';
import { agentRetryDelayMs } from './timing.js';
import { effectivePolicy } from './policy.js';
import { parseAgentUrl } from './agent-url.js';

export interface LauncherCoreOptions {
  /** defaults to the OS keychain, or memory when there is none (the state says why; no offline workspace then) */
  secretStore?: SecretStore | Promise<SecretStore>;
  logger?: Logger;
  fetch?: FetchFn;
  /** pre-fills the agent address while nobody is signed in (e.g. `--agent URL`) */
  defaultAgentUrl?: string;
  /** per request to the agent; default 10 s */
  requestTimeoutMs?: number;
  /** the clock for token expiry (tests move it forward to expire the access token) */
  now?: () => number;
  /** how this device decodes video (Electron passes its own); default: a browser, which decides itself */
  device?: DeviceProvider;
  /** where the encrypted offline profiles are kept (its key in the secret store); none: no offline workspace */
  profileDir?: string;
  /** the device's launcher policy (loadPolicy); default: none, every setting its default */
  policy?: EffectivePolicy;
  /** how this launcher names itself to the agent (connect's `device`); default: random per start */
  deviceId?: string;
}

export interface LauncherCore extends PortholeApi {
  /** resolves once the saved sign-in (if any) was restored; every API call waits for it */
  readonly ready: Promise<void>;
  /** stops timers and following; the sign-in stays in the keychain */
  close(): Promise<void>;
  /** for tests and diagnostics: force the refresh path now (rotates the refresh token) */
  refreshNow(): Promise<void>;
  /** for tests: when the current access token expires, ms since epoch */
  accessExpiresAt(): number | undefined;
  /** the Electron layer opens exactly this URL in the system browser, and no other */
  isCompanySignInUrl(url: string): boolean;
}

export type { SecretStore } from './secret-store.js';
export type { DeviceProvider } from './device.js';
export { MemorySecretStore, KeyringSecretStore, openSecretStore } from './secret-store.js';
export { callBridge } from './bridge.js';

/** What a policy that fixes a setting answers to an attempt to change it. */
function managedError(message: string): PortholeError {
  return new PortholeError('managed', `${message} This is set by your organisation's policy on this device.`);
}

export function createLauncherCore(opts: LauncherCoreOptions = {}): LauncherCore {
  const logger = opts.logger ?? stderrLogger;
  const policy = opts.policy ?? effectivePolicy({}, null);
  /** this launcher, to the agent: one device shows a person's desktop at a time (roaming) */
  const deviceId = opts.deviceId ?? randomBytes(12).toString('base64url');
  const managedAgentUrl = policy.agentUrl.value ?? undefined;
  /** The policy's agent, when it fixes one: signing in anywhere else is refused here, not only hidden. */
  const checkAgent = (agentUrl: string) => {
    if (managedAgentUrl && parseAgentUrl(agentUrl).display !== managedAgentUrl) throw managedError(`This device signs in only at ${managedAgentUrl}.`);
  };
  const checkMethod = (method: 'password' | 'oidc') => {
    if (!policy.signInMethods.value.includes(method)) throw managedError(method === 'password' ? 'Signing in with a password is turned off here; use your company account.' : 'Signing in with a company account is turned off here; use your user name and password.');
  };
  const device = opts.device ?? browserDevice;
  const listeners = new Listeners<LauncherEvent>();
  let reachable = true;
  let lastProblem: string | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  let probeDueAt: number | undefined;
  let probeAttempt = 0;
  let closed = false;

  /** What the renderer shows: reachable, or why not and when the next try is (a countdown). */
  const agentEvent = (): AgentEvent =>
    reachable
      ? { type: 'agent', reachable: true }
      : { type: 'agent', reachable: false, message: lastProblem, ...(probeDueAt !== undefined ? { retryInMs: Math.max(0, probeDueAt - Date.now()), attempt: probeAttempt } : {}) };

  const setReachable = (now: boolean, message?: string): void => {
    if (!now && message) lastProblem = message;
    if (now === reachable) return;
    reachable = now;
    logger.info(now ? 'the agent answers again' : `lost the agent: ${message ?? 'unreachable'}`);
    if (now) {
      probeAttempt = 0;
      probeDueAt = undefined;
      if (probeTimer) clearTimeout(probeTimer);
      probeTimer = undefined;
    } else scheduleProbe();
    listeners.emit(agentEvent());
  };

  /** Wraps every agent call: reachability follows what actually happened on the wire. */
  async function onAgent<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const value = await fn();
      setReachable(true);
      return value;
    } catch (error) {
      const e = toPortholeError(error);
      // A revoked device's key is of no use any more; the next enrolment makes a new one.
      if (e.reason === 'device_revoked') {
        const agentUrl = auth.state().agentUrl;
        if (agentUrl) void deviceKeys.forget(agentUrl).catch(() => undefined);
      }
      if (e.code === 'agent_unreachable') setReachable(false, e.message);
      else if (e.code !== 'signed_out' && e.code !== 'internal' && e.code !== 'invalid_agent_url') setReachable(true);
      throw e;
    }
  }

  /** Whom to ask: the signed-in agent, else the one the sign-in screen is for (a kiosk's, before anyone signs in). */
  function probeTarget(): AgentClient | undefined {
    const current = auth.currentClient();
    if (current) return current;
    const agentUrl = auth.state().agentUrl;
    try {
      return agentUrl ? createAgentClient(agentUrl, { fetch: opts.fetch, timeoutMs: opts.requestTimeoutMs }) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Asks the agent's /healthz once; on failure the next try is scheduled and announced. */
  async function probeAgent(): Promise<boolean> {
    const client = probeTarget();
    if (!client) return reachable;
    await onAgent(() => client.health()).catch(() => undefined);
    if (!reachable && !probeTimer) {
      scheduleProbe();
      listeners.emit(agentEvent());
    }
    return reachable;
  }

  /**
   * While the agent is away and someone listens, ask its /healthz again, backing off (1 s to 30 s,
   * for ever), so the renderer learns it is back even when no session is being followed.
   */
  function scheduleProbe(): void {
    if (probeTimer || closed || reachable) return;
    probeAttempt++;
    const delay = agentRetryDelayMs(probeAttempt);
    probeDueAt = Date.now() + delay;
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      probeDueAt = undefined;
      if (reachable || closed || !probeTarget() || listeners.size === 0) return;
      void probeAgent();
    }, delay);
    probeTimer.unref();
  }

  const follower = new SessionFollower({
    fetchSession: (id) => onAgent(() => auth.withToken((c, t) => c.getSession(t, id))),
    emit: (event) => listeners.emit(event),
    hasListeners: () => listeners.size > 0,
    agentReachable: () => reachable,
  });

  const secretStore = opts.secretStore ?? openSecretStore(logger);
  const deviceKeys = new DeviceKeys(async () => secretStore);
  const auth = new Auth({
    store: secretStore,
    logger,
    client: { fetch: opts.fetch, timeoutMs: opts.requestTimeoutMs, deviceProof: (agentUrl) => deviceKeys.proof(agentUrl).catch(() => undefined) },
    defaultAgentUrl: managedAgentUrl ?? opts.defaultAgentUrl,
    now: opts.now,
    onLost: (message) => {
      follower.stopAll();
      logger.warn(`the sign-in ended: ${message}`);
      listeners.emit({ type: 'auth', state: auth.state(), message });
    },
  });

  const ready = auth.restore().then((unreachable) => {
    if (unreachable) setReachable(false, unreachable.message);
  }).catch((error: unknown) => logger.error(`restoring the sign-in failed: ${String(error)}`));

  const authed = async <T>(fn: (client: AgentClient, token: string) => Promise<T>): Promise<T> => {
    await ready;
    if (closed) throw new PortholeError('closed', 'Porthole is shutting down.');
    if (!auth.signedIn) throw signedOutError();
    return onAgent(() => auth.withToken(fn));
  };

  let companyFlow: { agentUrl: string; flow: CompanySignInFlow } | undefined;
  // No usable keychain, no offline workspace: its key would be lost with the process (and never on disk).
  // A kiosk is shared: nothing of a person is kept on it, so no offline workspace either.
  const profiles = opts.profileDir && !policy.kiosk.value
    ? (async () => {
        const store = await secretStore;
        return store.problem ? undefined : new ProfileCache(opts.profileDir!, store);
      })()
    : undefined;
  let lastSessions: Session[] = [];
  const lastSavedFingerprint = new Map<string, string>();
  let lastMe: Me | undefined;

  /** The agent's certificate fingerprint, asked once per agent and run (https agents only). */
  const fingerprints = new Map<string, Promise<string | undefined>>();
  const fingerprintOf = (agentUrl: string) => {
    if (!fingerprints.has(agentUrl)) fingerprints.set(agentUrl, agentCertificateFingerprint(agentUrl));
    return fingerprints.get(agentUrl)!;
  };

  /** Keeps what the person saw, for when the agent cannot be reached; a cache that fails is only logged. */
  const remember = (me: Me) => {
    const state = auth.state();
    if (!profiles || !state.agentUrl || !state.user) return;
    void profiles
      .then(async (cache) => {
        if (!cache) return;
        const tlsFingerprint = await fingerprintOf(state.agentUrl!);
        if (tlsFingerprint && lastSavedFingerprint.get(state.agentUrl!) !== tlsFingerprint) {
          // First save of this run (or a new certificate): compare with what the device saw before.
          const before = lastSavedFingerprint.get(state.agentUrl!) ?? (await cache.load(state.agentUrl!, state.user!.name).then((r) => (r.ok ? r.profile.tlsFingerprint : undefined)));
          const changed = certificateChange(before, tlsFingerprint);
          if (changed) logger.warn(`${changed}; if nobody renewed it, the address may not lead to your agent`);
          lastSavedFingerprint.set(state.agentUrl!, tlsFingerprint);
        }
        await cache.save({ agentUrl: state.agentUrl!, user: state.user!.name, me, recentSessions: lastSessions, ...(tlsFingerprint ? { tlsFingerprint } : {}) });
      })
      .catch((error: unknown) => logger.warn(`could not save the offline workspace: ${error instanceof Error ? error.message : String(error)}`));
  };

  const api: LauncherCore = {
    ready,
    async getState(): Promise<LauncherState> {
      await ready;
      return auth.state();
    },
    policy: async () => policy,
    async signIn(req: SignInRequest): Promise<LauncherState> {
      await ready;
      checkAgent(req.agentUrl);
      checkMethod('password');
      follower.stopAll();
      const state = await onAgent(() => auth.signIn(req.agentUrl, req.username, req.password));
      listeners.emit({ type: 'auth', state });
      return state;
    },
    async forgetDevice(): Promise<LauncherState> {
      await api.signOut();
      await (await profiles)?.removeAll();
      logger.info('forgot this device: the sign-in and every saved workspace are gone');
      return auth.state();
    },
    /** What the agent offers, less what the policy turns off. */
    async signInOptions(agentUrl: string) {
      checkAgent(agentUrl);
      const offered = await onAgent(() => auth.providers(agentUrl));
      const allowed = policy.signInMethods.value;
      return { ...offered, password: offered.password && allowed.includes('password'), ...(offered.oidc && !allowed.includes('oidc') ? { oidc: undefined } : {}) };
    },
    async startCompanySignIn(agentUrl: string): Promise<{ url: string }> {
      await ready;
      checkAgent(agentUrl);
      checkMethod('oidc');
      const options = await onAgent(() => auth.providers(agentUrl));
      if (!options.oidc) throw new PortholeError('not_offered', 'This agent does not offer sign-in with a company account; use your user name and password.');
      companyFlow?.flow.cancel();
      companyFlow = { agentUrl, flow: await startCompanySignIn(options.oidc, opts.fetch as typeof fetch | undefined) };
      return { url: companyFlow.flow.url };
    },
    async finishCompanySignIn(): Promise<LauncherState> {
      const pending = companyFlow;
      if (!pending) throw new PortholeError('bad_request', 'No company sign-in was started; start it again.');
      try {
        const idToken = await pending.flow.idToken;
        follower.stopAll();
        const state = await onAgent(() => auth.signInWithIdToken(pending.agentUrl, idToken));
        listeners.emit({ type: 'auth', state });
        return state;
      } finally {
        if (companyFlow === pending) companyFlow = undefined;
      }
    },
    isCompanySignInUrl: (url: string) => companyFlow?.flow.url === url,
    async signOut(): Promise<void> {
      await ready;
      follower.stopAll();
      const before = auth.state();
      // Nothing of that person stays on the device: their offline workspace goes with the sign-in.
      const cache = await profiles;
      if (cache && before.agentUrl && before.user) await cache.remove(before.agentUrl, before.user.name).catch(() => undefined);
      lastMe = undefined;
      lastSessions = [];
      await auth.signOut();
      listeners.emit({ type: 'auth', state: auth.state() });
    },
    async deviceEnrollment(agentUrl: string) {
      return (await deviceKeys.enrolment(parseAgentUrl(agentUrl).display)) ?? null;
    },
    async enrollDevice(agentUrl: string, code: string) {
      await ready;
      checkAgent(agentUrl);
      const client = createAgentClient(agentUrl, { fetch: opts.fetch, timeoutMs: opts.requestTimeoutMs });
      const device = await onAgent(() => deviceKeys.enroll(client.agentUrl, (publicKey) => client.enrollDevice(code, publicKey)));
      logger.info(`this device is enrolled at ${client.agentUrl} as "${device.name}" (${device.id})`);
      return device;
    },
    async retryAgentNow() {
      await ready;
      if (probeTimer) clearTimeout(probeTimer);
      probeTimer = undefined;
      probeDueAt = undefined;
      return { reachable: await probeAgent() };
    },
    async me(): Promise<Me> {
      const me = await authed((c, t) => c.me(t));
      lastMe = me;
      remember(me);
      return me;
    },
    async offlineWorkspace() {
      await ready;
      const state = auth.state();
      const cache = await profiles;
      if (!cache || !state.signedIn || !state.agentUrl || !state.user) return null;
      const read = await cache.load(state.agentUrl, state.user.name);
      if (!read.ok) {
        if (read.reason !== 'missing') logger.warn(read.message);
        return null;
      }
      return { me: read.profile.me, sessions: read.profile.recentSessions, savedAt: read.profile.savedAt, ...(read.profile.tlsFingerprint ? { tlsFingerprint: read.profile.tlsFingerprint } : {}) };
    },
    async listSessions(): Promise<Session[]> {
      const sessions = await authed((c, t) => c.listSessions(t));
      lastSessions = sessions;
      if (lastMe) remember(lastMe);
      // Keep live sessions current for whoever shows the list.
      for (const s of sessions) if (!follower.isFollowing(s.id) && s.phase !== 'Stopped' && s.phase !== 'Failed') follower.follow(s);
      return sessions;
    },
    async startSession(template: string): Promise<Session> {
      const session = await authed((c, t) => c.createSession(t, template));
      follower.follow(session);
      return session;
    },
    async stopSession(id: string): Promise<void> {
      const after = await authed((c, t) => c.deleteSession(t, id));
      // Follow it down to Stopped so the list updates without a reload.
      const session = after ?? (await authed((c, t) => c.getSession(t, id)).catch(() => undefined));
      if (session) follower.follow(session);
    },
    // The person opening a desktop here (takeOver) ends other devices' streams of it; reconnects do not.
    connect: (id: string, opts?: { takeOver: boolean }): Promise<ConnectResponse> => authed((c, t) => c.connect(t, id, { device: deviceId, takeOver: opts?.takeOver ?? false })),
    // No sign-in needed: the device is the same whoever uses it.
    deviceReport: () => device.report(),
    async setHardwareDecode(enabled: boolean) {
      if (policy.hardwareDecode.source === 'policy') throw managedError(`Hardware video decoding is ${policy.hardwareDecode.value ? 'on' : 'off'} on this device.`);
      return device.setHardwareDecode(enabled);
    },
    onEvent(listener) {
      const off = listeners.add(listener);
      follower.wake();
      if (!reachable) {
        scheduleProbe();
        // A page that opens while the agent is away learns it (and the countdown) at once.
        let on = true;
        queueMicrotask(() => on && !reachable && listener(agentEvent()));
        return () => {
          on = false;
          off();
        };
      }
      return off;
    },
    async close(): Promise<void> {
      closed = true;
      await ready.catch(() => undefined);
      follower.stopAll();
      companyFlow?.flow.cancel();
      auth.close();
      if (probeTimer) clearTimeout(probeTimer);
    },
    async refreshNow(): Promise<void> {
      await ready;
      if (!auth.signedIn) throw signedOutError();
      await onAgent(() => auth.refresh());
    },
    accessExpiresAt: () => auth.accessExpiresAt(),
  };
  return api;
}
