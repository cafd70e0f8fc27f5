/**
 * The agent's HTTP API and stream gateway in-process, on the real local runtime with real Xvnc
 * desktops. Each test asserts what a person (or the launcher) would notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { TokenService } from '../../cluster-agent/agent/access-tokens.js';
import { loadOrCreateSigningKey } from '../../cluster-agent/state/signing-key-file.js';
import { RfbClient } from '../support/rfb-client.js';
import { waitFor } from '../support/processes.js';
import { call, closeOf, openWs, startTestAgent, type TestAgent } from './support.js';
import { join } from 'node:path';

let t: TestAgent;
let base: string;
const login = async (username: string, password: string) => (await call(base, 'POST', routes.login, { json: { username, password } })).body;

beforeAll(async () => {
  // An administrator limited "terminal" to the dev group: alice is in it, bob is not.
  t = await startTestAgent({ alice: { password: 'alice-pw', groups: ['dev'] }, bob: { password: 'bob-pw' } }, { restrict: { terminal: { allowedGroups: ['dev'] } } });
  base = t.agent.url;
});
afterAll(async () => {
  await t?.cleanup();
});

describe('sign-in and tokens', () => {
  it('refuses a wrong password and an unknown user with the same 401 sentence', async () => {
    const wrong = await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'nope' } });
    const unknown = await call(base, 'POST', routes.login, { json: { username: 'mallory', password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: 'unauthorized', message: 'Wrong user name or password', reason: 'bad_credentials' } });
    expect(unknown.body).toEqual(wrong.body);
  });

  it('answers malformed JSON, a missing field and an unknown route with JSON errors a person can act on', async () => {
    const bad = await call(base, 'POST', routes.login, { raw: '{"username": "alice",' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'bad_request', message: 'The request body is not valid JSON' } });
    const missing = await call(base, 'POST', routes.login, { json: { username: 'alice' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/body\.password/);
    const nowhere = await call(base, 'GET', '/api/v1/nowhere?token=secret');
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error).toEqual({ code: 'not_found', message: 'No such API route: GET /api/v1/nowhere' });
  });

  it('signs in, and refuses missing, forged and expired access tokens (expired says to refresh)', async () => {
    const tokens = await login('alice', 'alice-pw');
    expect(tokens).toMatchObject({ expiresIn: 900, user: { name: 'alice', groups: ['dev'] } });
    expect((await call(base, 'GET', routes.me, { token: tokens.accessToken })).status).toBe(200);

    const none = await call(base, 'GET', routes.me);
    expect(none.status).toBe(401);
    expect(none.body.error.message).toMatch(/Sign in first/);

    const [h, p, s] = tokens.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString('base64url');
    const forged = await call(base, 'GET', routes.me, { token: `${h}.${forgedPayload}.${s}` });
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/not valid; sign in again/);

    // Signed with the agent's real key, 16 minutes ago: the clock is the only thing moved.
    const key = await loadOrCreateSigningKey(join(t.dir.path, 'agent'));
    const old = (await new TokenService(key, () => Date.now() - 16 * 60_000).issueAccessToken('alice')).token;
    const expired = await call(base, 'GET', routes.me, { token: old });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired; refresh it/);
    expect(expired.body.error.reason).toBe('token_expired');
    expect(expired.headers.get('www-authenticate')).toMatch(/error_description="expired"/);
  });

  it('rotates refresh tokens, signs the whole family out when an old one is reused, and logs out', async () => {
    const first = await login('alice', 'alice-pw');
    const second = await call(base, 'POST', routes.refresh, { json: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect((await call(base, 'GET', routes.me, { token: second.body.accessToken })).status).toBe(200);

    const replay = await call(base, 'POST', routes.refresh, { json: { refreshToken: first.refreshToken } });
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/already used once/);
    expect(replay.body.error.reason).toBe('refresh_reused');
    const afterReplay = await call(base, 'POST', routes.refresh, { json: { refreshToken: second.body.refreshToken } });
    expect(afterReplay.status).toBe(401);

    const other = await login('alice', 'alice-pw');
    expect((await call(base, 'POST', routes.logout, { json: { refreshToken: other.refreshToken } })).status).toBe(204);
    expect((await call(base, 'POST', routes.refresh, { json: { refreshToken: other.refreshToken } })).status).toBe(401);
  });

  it('rate limits sign-in per address and user name, saying when to retry', async () => {
    for (let i = 0; i < 10; i++) expect((await call(base, 'POST', routes.login, { json: { username: 'carol', password: `guess${i}` } })).status).toBe(401);
    const limited = await call(base, 'POST', routes.login, { json: { username: 'carol', password: 'guess' } });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(limited.body.error.message).toMatch(/try again in \d+ (seconds?|minutes?)/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'alice-pw' } })).status).toBe(200);
  });
});

describe('templates and sessions', () => {
  let alice: string;
  let bob: string;
  let sessionId: string;
  beforeAll(async () => {
    alice = (await login('alice', 'alice-pw')).accessToken;
    bob = (await login('bob', 'bob-pw')).accessToken;
  });

  it('/me gives the user, their templates and default preferences', async () => {
    const me = await call(base, 'GET', routes.me, { token: alice });
    expect(me.body.user).toEqual({ name: 'alice', groups: ['dev'] });
    expect(me.body.preferences).toEqual({ protocol: 'vnc', scale: 'fit' });
    expect(me.body.templates.map((x: { name: string }) => x.name)).toContain('terminal');
    expect((await call(base, 'GET', routes.templates, { token: alice })).body.templates).toEqual(me.body.templates);
  });

  it('shows bob only the templates he may start and refuses the others with 403 and a sentence', async () => {
    const me = await call(base, 'GET', routes.me, { token: bob });
    expect(me.body.templates.map((x: { name: string }) => x.name)).not.toContain('terminal');
    expect(JSON.stringify(me.body)).not.toContain('allowedGroups');
    const refused = await call(base, 'POST', routes.sessions, { token: bob, json: { template: 'terminal' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: 'forbidden', message: 'You are not allowed to start "terminal"; ask an administrator to grant you access' });
  });

  it('refuses an unknown template (404), an invalid name (400) and an unavailable one (409, with why)', async () => {
    const unknown = await call(base, 'POST', routes.sessions, { token: alice, json: { template: 'nosuch' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/no template "nosuch"/);
    const invalid = await call(base, 'POST', routes.sessions, { token: alice, json: { template: 'No Such' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toMatch(/body\.template/);
    const { templates } = (await call(base, 'GET', routes.templates, { token: alice })).body;
    const off = templates.find((x: { available: boolean }) => !x.available); // xfce is not installed on this machine
    expect(off, 'this machine has a template that cannot start (xfce)').toBeDefined();
    const unavailable = await call(base, 'POST', routes.sessions, { token: alice, json: { template: off.name } });
    expect(unavailable.status).toBe(409);
    expect(unavailable.body.error.message).toBe(off.unavailableReason);
  });

  it('start-or-get: 202 with a new session, then 200 with the same one; connect says "not running yet" meanwhile', async () => {
    const created = await call(base, 'POST', routes.sessions, { token: alice, json: { template: 'terminal' } });
    expect(created.status).toBe(202);
    sessionId = created.body.id;
    expect(created.body).toMatchObject({ user: 'alice', template: 'terminal' });
    const early = await call(base, 'POST', routes.connect(sessionId), { token: alice });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/not running yet \(phase (Pending|Starting)\)/);
    const again = await call(base, 'POST', routes.sessions, { token: alice, json: { template: 'terminal' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(sessionId);
  });

  it("hides alice's session from bob exactly like a missing one", async () => {
    const missing = await call(base, 'GET', routes.session('nosuchsession'), { token: bob });
    const theirs = await call(base, 'GET', routes.session(sessionId), { token: bob });
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.message).toBe(missing.body.error.message.replace('nosuchsession', sessionId));
    expect((await call(base, 'POST', routes.connect(sessionId), { token: bob })).status).toBe(404);
    expect((await call(base, 'DELETE', routes.session(sessionId), { token: bob })).status).toBe(404);
    expect((await call(base, 'GET', routes.sessions, { token: bob })).body.sessions).toEqual([]);
    expect((await call(base, 'GET', routes.sessions, { token: alice })).body.sessions.map((s: { id: string }) => s.id)).toEqual([sessionId]);
  });

  it('streams the desktop: a real RFB client sees only security type None, then the desktop\'s ServerInit', async () => {
    await waitFor('session Running', async () => (await call(base, 'GET', routes.session(sessionId), { token: alice })).body.phase === 'Running' || undefined, 40_000);
    const connect = await call(base, 'POST', routes.connect(sessionId), { token: alice });
    expect(connect.status).toBe(200);
    expect(connect.body.vnc.url).toBe(`${base.replace('http:', 'ws:')}${routes.vnc(sessionId)}?token=${connect.body.token}`);
    expect(connect.body.webrtc).toEqual({ url: `${base.replace('http:', 'ws:')}${routes.webrtc(sessionId)}?token=${connect.body.token}`, iceServers: [] });
    expect(Date.parse(connect.body.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);

    const client = await RfbClient.connect({ kind: 'ws', url: connect.body.vnc.url });
    try {
      expect(client.offeredSecurityTypes).toEqual([1]);
      expect(client.init).toMatchObject({ width: 1280, height: 800 });
      client.requestUpdate(false);
      const update = await client.nextUpdate();
      expect(update.bytes).toBeGreaterThan(0);
      // the runtime learns someone is watching (idle time stops counting)
      await waitFor('connectedClients 1', async () => (await call(base, 'GET', routes.session(sessionId), { token: alice })).body.connectedClients === 1 || undefined);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/porthole_open_streams\{protocol="vnc"\} 1/);
      expect(metrics).toMatch(/porthole_gateway_bytes_total\{direction="to_client"\} [1-9]/);
    } finally {
      client.close();
    }
    await waitFor('connectedClients 0', async () => (await call(base, 'GET', routes.session(sessionId), { token: alice })).body.connectedClients === 0 || undefined);
    // Sessions gauge and start histogram reflect the desktop.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/porthole_sessions\{phase="Running"\} 1/);
    expect(metrics).toMatch(/porthole_session_start_duration_seconds_count\{template="terminal"\} 1/);
    expect(metrics).toMatch(/porthole_login_attempts_total\{result="bad_credentials"\} \d+/);
  });

  it('accepts the "binary" subprotocol if offered', async () => {
    const { token } = (await call(base, 'POST', routes.connect(sessionId), { token: alice })).body;
    const opened = await openWs(`${base.replace('http:', 'ws:')}${routes.vnc(sessionId)}?token=${token}`, ['binary']);
    expect(opened.kind).toBe('open');
    if (opened.kind === 'open') {
      expect(opened.protocol).toBe('binary');
      opened.ws.close();
    }
  });

  it('refuses reused, tampered, expired, other-session and missing connect tokens before the upgrade', async () => {
    const ws = base.replace('http:', 'ws:');
    const { token, vnc } = (await call(base, 'POST', routes.connect(sessionId), { token: alice })).body;
    const first = await openWs(vnc.url);
    expect(first.kind).toBe('open');
    if (first.kind === 'open') first.ws.close();

    const reused = await openWs(vnc.url);
    expect(reused).toMatchObject({ kind: 'http', status: 401, body: { error: { code: 'unauthorized' } } });
    expect((reused as { body: { error: { message: string } } }).body.error.message).toMatch(/already used/);

    const fresh = (await call(base, 'POST', routes.connect(sessionId), { token: alice })).body.token as string;
    const tampered = fresh.slice(0, -3) + (fresh.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(await openWs(`${ws}${routes.vnc(sessionId)}?token=${tampered}`)).toMatchObject({ kind: 'http', status: 401 });

    const key = await loadOrCreateSigningKey(join(t.dir.path, 'agent'));
    const stale = (await new TokenService(key, () => Date.now() - 61_000).issueConnectToken('alice', sessionId)).token;
    const expired = await openWs(`${ws}${routes.vnc(sessionId)}?token=${stale}`);
    expect(expired).toMatchObject({ kind: 'http', status: 401 });
    expect((expired as { body: { error: { message: string } } }).body.error.message).toMatch(/expired/);

    // Issued by this agent for another session: refused on this session's URL.
    const forOther = (await t.agent.deps.tokens.issueConnectToken('bob', 'bobs-session')).token;
    const other = await openWs(`${ws}${routes.vnc(sessionId)}?token=${forOther}`);
    expect(other).toMatchObject({ kind: 'http', status: 401 });
    expect((other as { body: { error: { message: string } } }).body.error.message).toMatch(/different session/);

    // Right session id, but minted for bob: alice's desktop is not his.
    const bobs = (await t.agent.deps.tokens.issueConnectToken('bob', sessionId)).token;
    expect(await openWs(`${ws}${routes.vnc(sessionId)}?token=${bobs}`)).toMatchObject({ kind: 'http', status: 404 });

    const missing = await openWs(`${ws}${routes.vnc(sessionId)}`);
    expect(missing).toMatchObject({ kind: 'http', status: 401 });
    expect(token).toBeTruthy();
  });

  it('the WebRTC route verifies the token, then says why WebRTC is not available on an agent without a streamer', async () => {
    const bad = await openWs(`${base.replace('http:', 'ws:')}${routes.webrtc(sessionId)}?token=nonsense`);
    expect(bad).toMatchObject({ kind: 'http', status: 401 });
    const { webrtc } = (await call(base, 'POST', routes.connect(sessionId), { token: alice })).body;
    const opened = await openWs(webrtc.url);
    expect(opened.kind).toBe('open');
    if (opened.kind === 'open') {
      expect(await closeOf(opened.ws)).toEqual({ code: 4501, reason: 'WebRTC is not available for this desktop (this agent has no WebRTC streamer: npm run build:streamer); use VNC' });
      expect(JSON.parse(opened.texts[0]!)).toMatchObject({ type: 'error', code: 'streamer_unavailable' });
    }
  });

  it('publishes OpenAPI from the contract and answers the probes', async () => {
    const doc = await (await fetch(`${base}${routes.openapi}`)).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([routes.login, routes.me, routes.sessions, '/api/v1/sessions/{id}/connect']));
    expect(doc.paths[routes.login].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('DELETE ends the session (202) and connect then refuses it', async () => {
    const del = await call(base, 'DELETE', routes.session(sessionId), { token: alice });
    expect(del.status).toBe(202);
    expect(['Stopping', 'Stopped']).toContain(del.body.phase);
    const after = await call(base, 'POST', routes.connect(sessionId), { token: alice });
    expect(after.status).toBe(409);
    expect(after.body.error.message).toMatch(/not running yet \(phase (Stopping|Stopped)\)/);
  });
});
