/**
 * The launcher core against the real agent (`npm run agent -- serve --runtime local`) with real
 * Xvnc desktops: sign-in, refresh rotation, restore, session following, connect, agent outages.
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { SIGN_IN_KEY, signInKey } from '../../main/core/auth.js';
import { createLauncherCore, MemorySecretStore, type LauncherCore } from '../../main/core/index.js';
import { effectivePolicy } from '../../main/core/policy.js';
import { silentLogger } from '../../main/core/logger.js';
import type { LauncherEvent, SessionEvent } from '../../bridge/contract.js';
import { stopAllSessions } from '../support/agent-api.js';
import { runCli, startCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { failure } from '../support/porthole-error.js';

const AGENT = 'cluster-agent/agent/cli.ts';
const PASSWORD = 'launcher core pw';
const data = tempDir('launcher-core');
const usersFile = join(data.path, 'users.yaml');
let agent: Started;
let agentUrl: string;
const cores: LauncherCore[] = [];

function startAgent(listen: string): Promise<Started> {
  return startCli(AGENT, ['serve', '--runtime', 'local', '--listen', listen, '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
}

function core(opts: Parameters<typeof createLauncherCore>[0] = {}): LauncherCore {
  const c = createLauncherCore({ secretStore: new MemorySecretStore(), logger: silentLogger, ...opts });
  cores.push(c);
  return c;
}

/** The refresh token as the core keeps it: under the agent and person the `sign-in` item names. */
async function storedRefreshToken(store: MemorySecretStore): Promise<string | undefined> {
  const pointer = await store.get(SIGN_IN_KEY);
  if (!pointer) return undefined;
  const { agentUrl: at, user, refreshToken } = JSON.parse(pointer) as { agentUrl: string; user: string; refreshToken?: string };
  if (refreshToken) return refreshToken; // an item of the old form, still read
  const raw = await store.get(signInKey(at, user));
  return raw ? (JSON.parse(raw) as { refreshToken: string }).refreshToken : undefined;
}

beforeAll(async () => {
  for (const user of ['carol', 'dave']) {
    const added = await runCli(AGENT, ['users', 'add', user, '--file', usersFile, '--password-stdin'], PASSWORD);
    expect(added.code, added.stderr).toBe(0);
  }
  agent = await startAgent('127.0.0.1:0');
  agentUrl = agent.match[1]!;
});

afterAll(async () => {
  for (const c of cores) await c.close();
  if (agent && agent.child.exitCode === null) {
    await stopAllSessions(agentUrl, 'carol', PASSWORD).catch(() => undefined);
    await stopAllSessions(agentUrl, 'dave', PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
  }
  data.remove();
});

describe("the device's policy, enforced by the core (not only hidden in the page)", () => {
  it('signs in only at the managed agent, only with allowed methods; a managed setting cannot be changed', async () => {
    const managed = effectivePolicy({ agentUrl, signIn: { methods: ['oidc'] }, streaming: { hardwareDecode: false } }, '/etc/porthole/policy.json');
    const c = core({ policy: managed, defaultAgentUrl: 'http://elsewhere.example:7380' });
    // The policy's agent pre-fills the sign-in screen, whatever --agent said.
    expect(await c.getState()).toMatchObject({ signedIn: false, agentUrl });
    expect(await c.policy()).toEqual(managed);
    const other = await failure(c.signIn({ agentUrl: 'http://127.0.0.1:1', username: 'carol', password: PASSWORD }));
    expect(other.code).toBe('managed');
    expect(other.message).toBe(`This device signs in only at ${agentUrl}. This is set by your organisation's policy on this device.`);
    const password = await failure(c.signIn({ agentUrl, username: 'carol', password: PASSWORD }));
    expect(password.code).toBe('managed');
    expect(password.message).toMatch(/^Signing in with a password is turned off here; use your company account\./);
    // What the agent offers, less what the policy turns off: this agent offers passwords only.
    expect(await c.signInOptions(agentUrl)).toMatchObject({ password: false });
    expect((await failure(c.setHardwareDecode(true))).message).toBe("Hardware video decoding is off on this device. This is set by your organisation's policy on this device.");
    expect(await c.getState()).toMatchObject({ signedIn: false });
  });

  it('on a kiosk nothing of the person is written to disk: no offline workspace', async () => {
    const profileDir = join(data.path, 'kiosk-profiles');
    const c = core({ policy: effectivePolicy({ kiosk: { enabled: true } }, '/etc/porthole/policy.json'), profileDir });
    await c.signIn({ agentUrl, username: 'carol', password: PASSWORD });
    await c.me();
    await c.listSessions();
    await new Promise((r) => setTimeout(r, 300)); // where the save would happen
    expect(existsSync(profileDir)).toBe(false);
    expect(await c.offlineWorkspace()).toBeNull();
    await c.signOut();
  });
});

describe('sign-in', () => {
  it('a wrong password gets a sentence, and nobody is signed in', async () => {
    const c = core({ defaultAgentUrl: agentUrl });
    const e = await failure(c.signIn({ agentUrl, username: 'carol', password: 'nope' }));
    expect(e.code).toBe('wrong_password');
    expect(e.message).toBe('The user name or password is wrong. Check them (and Caps Lock) and try again.');
    expect(await c.getState()).toEqual({ signedIn: false, agentUrl });
  });

  it('an agent that is down gets the unreachable sentence', async () => {
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((ok) => probe.close(() => ok()));
    const c = core();
    const e = await failure(c.signIn({ agentUrl: `http://127.0.0.1:${port}`, username: 'carol', password: PASSWORD }));
    expect(e.code).toBe('agent_unreachable');
    expect(e.message).toBe(`Porthole cannot reach the agent at http://127.0.0.1:${port}: connection refused. Check the address or whether the agent runs.`);
  });

  it('signs in, tells listeners, keeps the refresh token only in the store, and restores it after a restart', async () => {
    const store = new MemorySecretStore();
    const first = core({ secretStore: store });
    const events: LauncherEvent[] = [];
    first.onEvent((e) => events.push(e));
    const state = await first.signIn({ agentUrl, username: 'carol', password: PASSWORD });
    expect(state).toEqual({ signedIn: true, agentUrl, user: { name: 'carol', groups: [] }, restored: false });
    expect(events).toContainEqual({ type: 'auth', state });
    expect(JSON.stringify(state)).not.toMatch(/refresh|token/i);
    const token = await storedRefreshToken(store);
    expect(token).toBeTruthy();
    // keyed by agent and person; the `sign-in` item only says whose to restore
    expect(await store.get(signInKey(agentUrl, 'carol'))).toContain(token!);
    expect(await store.get(SIGN_IN_KEY)).not.toContain(token!);
    expect((await first.me()).user.name).toBe('carol');
    await first.close();

    // "Restart": a new core over the same store brings the sign-in back and rotates the token.
    const second = core({ secretStore: store });
    expect(await second.getState()).toEqual({ signedIn: true, agentUrl, user: { name: 'carol', groups: [] }, restored: true });
    expect(await storedRefreshToken(store)).not.toBe(token);
    expect((await second.me()).user.name).toBe('carol');
  });

  it('keeps a restored sign-in while its agent is away, and says the agent is unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
    const away = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((ok) => probe.close(() => ok()));
    const store = new MemorySecretStore();
    // a sign-in saved in the old form (the whole of it under `sign-in`) is still restored
    await store.set(SIGN_IN_KEY, JSON.stringify({ agentUrl: away, refreshToken: 'kept', user: { name: 'carol', groups: [] } }));
    const c = core({ secretStore: store });
    const events: LauncherEvent[] = [];
    c.onEvent((e) => events.push(e));
    expect(await c.getState()).toEqual({ signedIn: true, agentUrl: away, user: { name: 'carol', groups: [] }, restored: true });
    expect(events).toEqual([{ type: 'agent', reachable: false, message: expect.stringMatching(/^Porthole cannot reach the agent at .*: connection refused\./), retryInMs: expect.any(Number), attempt: expect.any(Number) }]);
    expect((await failure(c.me())).code).toBe('agent_unreachable');
    expect(await storedRefreshToken(store)).toBe('kept');
  });

  it('refreshes transparently once the access token has expired', async () => {
    let skewMs = 0;
    const store = new MemorySecretStore();
    const c = core({ secretStore: store, now: () => Date.now() + skewMs });
    await c.signIn({ agentUrl, username: 'carol', password: PASSWORD });
    const before = await storedRefreshToken(store);
    const expiresAt = c.accessExpiresAt()!;
    // The agent issues 15-minute access tokens; move the core's clock past that instead of waiting.
    skewMs = expiresAt - Date.now() + 1_000;
    expect((await c.me()).user.name).toBe('carol');
    expect(await storedRefreshToken(store)).not.toBe(before);
    expect(c.accessExpiresAt()!).toBeGreaterThan(expiresAt);
  });

  it('on a 401 from the agent it refreshes once and retries the call', async () => {
    let spoil = false;
    const seen: string[] = [];
    // A tap on the wire, not a fake agent: it spoils one access token; the real agent answers 401.
    const tap: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if (spoil && headers.has('authorization')) {
        spoil = false;
        headers.set('authorization', 'Bearer not-a-valid-token');
      }
      seen.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      return fetch(input, { ...init, headers });
    };
    const store = new MemorySecretStore();
    const c = core({ secretStore: store, fetch: tap });
    await c.signIn({ agentUrl, username: 'carol', password: PASSWORD });
    const before = await storedRefreshToken(store);
    spoil = true;
    seen.length = 0;
    expect((await c.me()).user.name).toBe('carol');
    expect(seen).toEqual([`GET ${routes.me}`, `POST ${routes.refresh}`, `GET ${routes.me}`]);
    expect(await storedRefreshToken(store)).not.toBe(before);
  });

  it('rotates on demand, and when the agent refuses the refresh token the sign-in ends with a message', async () => {
    const store = new MemorySecretStore();
    const c = core({ secretStore: store });
    await c.signIn({ agentUrl, username: 'carol', password: PASSWORD });
    const old = (await storedRefreshToken(store))!;
    await c.refreshNow();
    expect(await storedRefreshToken(store)).not.toBe(old);

    // Someone replays the old token: the agent treats it as stolen and revokes the whole sign-in.
    const replay = await fetch(new URL(routes.refresh, agentUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: old }) });
    expect(replay.status).toBe(401);

    const events: LauncherEvent[] = [];
    c.onEvent((e) => events.push(e));
    const e = await failure(c.refreshNow());
    expect(e.code).toBe('signed_out');
    expect(e.message).toMatch(/^Your sign-in has ended: .*sign in again\.$/i);
    expect(events).toContainEqual({ type: 'auth', state: { signedIn: false, agentUrl }, message: e.message });
    expect(await c.getState()).toEqual({ signedIn: false, agentUrl });
    expect(await store.get(SIGN_IN_KEY)).toBeUndefined();
    expect(await store.get(signInKey(agentUrl, 'carol'))).toBeUndefined();
    expect((await failure(c.me())).code).toBe('signed_out');
  });
});

describe('sessions', () => {
  it('startSession is followed from Pending/Starting to Running with growing elapsed time; connect gives a working stream URL', async () => {
    const c = core();
    await c.signIn({ agentUrl, username: 'dave', password: PASSWORD });
    const events: SessionEvent[] = [];
    c.onEvent((e) => {
      if (e.type === 'session') events.push(e);
    });
    const started = await c.startSession('terminal');
    expect(['Pending', 'Starting']).toContain(started.phase);
    await waitFor('the session to run', () => events.find((e) => e.session.id === started.id && e.session.phase === 'Running'), 45_000, 100);

    const mine = events.filter((e) => e.session.id === started.id);
    const firstRunning = mine.findIndex((e) => e.session.phase === 'Running');
    const starting = mine.slice(0, firstRunning);
    expect(starting.length).toBeGreaterThanOrEqual(1); // a local desktop may be up within one 500 ms poll
    expect(starting.every((e) => e.session.phase === 'Pending' || e.session.phase === 'Starting')).toBe(true);
    const elapsed = mine.map((e) => e.elapsedMs);
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b)); // never backwards
    expect(elapsed[firstRunning]!).toBeGreaterThan(elapsed[0]!);

    const first = await c.connect(started.id);
    const second = await c.connect(started.id);
    expect(first.vnc.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/sessions\/[a-z0-9-]+\/vnc\?token=/);
    expect(second.token).not.toBe(first.token); // fresh, single-use URL per (re)connect
    const rfb = await RfbClient.connect({ kind: 'ws', url: first.vnc.url });
    expect(rfb.init.width).toBeGreaterThan(0);
    expect(rfb.offeredSecurityTypes).toEqual([1]);
    rfb.close();

    expect((await c.listSessions()).map((s) => s.id)).toContain(started.id);
    await c.stopSession(started.id);
    await waitFor('the session to stop', () => events.find((e) => e.session.id === started.id && e.session.phase === 'Stopped'), 30_000, 100);
  }, 90_000);

  it('says when the agent goes away and when it is back', async () => {
    const c = core();
    await c.signIn({ agentUrl, username: 'dave', password: PASSWORD });
    const agentEvents: LauncherEvent[] = [];
    c.onEvent((e) => {
      if (e.type === 'agent') agentEvents.push(e);
    });
    const port = new URL(agentUrl).port;
    await stopProcess(agent.child);

    const e = await failure(c.listSessions());
    expect(e.code).toBe('agent_unreachable');
    expect(e.message).toBe(`Porthole cannot reach the agent at ${agentUrl}: connection refused. Check the address or whether the agent runs.`);
    // The first try again comes after about a second; each miss waits about twice as long (±10 %).
    expect(agentEvents).toEqual([{ type: 'agent', reachable: false, message: e.message, retryInMs: expect.any(Number), attempt: 1 }]);
    expect((agentEvents[0] as { retryInMs: number }).retryInMs).toBeGreaterThan(850);
    expect((agentEvents[0] as { retryInMs: number }).retryInMs).toBeLessThanOrEqual(1_100);
    await waitFor('a second try', () => agentEvents.find((ev) => ev.type === 'agent' && ev.attempt === 2), 5_000, 50);
    const second = agentEvents.find((ev) => ev.type === 'agent' && ev.attempt === 2) as { retryInMs: number; message: string };
    expect(second.message).toBe(e.message);
    expect(second.retryInMs).toBeGreaterThan(1_700);
    expect(second.retryInMs).toBeLessThanOrEqual(2_200);
    expect(await c.retryAgentNow()).toEqual({ reachable: false });

    agent = await startAgent(`127.0.0.1:${port}`);
    // "Try now" does not wait out the countdown.
    expect(await c.retryAgentNow()).toEqual({ reachable: true });
    expect(agentEvents.at(-1)).toEqual({ type: 'agent', reachable: true });
    // The sign-in survived the agent restart (its refresh tokens live in its data dir).
    expect((await c.me()).user.name).toBe('dave');
  }, 60_000);
});
