/**
 * Token state shared by agent replicas through the cluster (kubernetes runtime), with real agent
 * processes: refresh tokens in a Secret per user (any replica refreshes, reuse is caught across
 * replicas, a restart with an empty data dir forgets nothing) and connect tokens single-use across
 * replicas (a named Event per used token). The signing keyring in a Secret: `keys rotate` reaches every
 * replica, tokens of the old key keep working through the overlap, and an upgraded agent keeps the key
 * of the pre-rotation Secret.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes, Session, TokenResponse } from '../../cluster-agent/contract/index.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { sessionName } from '../../cluster-agent/kubernetes/resources.js';
import { STREAM_OPENED_REASON } from '../../cluster-agent/runtime/kubernetes/connect-token-ledger.js';
import { REFRESH_COMPONENT, refreshSecretName, userKey } from '../../cluster-agent/state/kubernetes/refresh-token-secrets.js';
import { TokenService } from '../../cluster-agent/agent/access-tokens.js';
import { LEGACY_SIGNING_KEY_SECRET, SIGNING_KEYS_SECRET } from '../../cluster-agent/state/kubernetes/signing-key-secret.js';
import { Jwks } from '../../cluster-agent/contract/index.js';
import { KeyringDoc, newSigningKeyPem, signingKeyFromPem } from '../../cluster-agent/state/signing-keys.js';
import { openWs } from '../agent/support.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { ensureCrds } from '../support/kube.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const CLI = 'cluster-agent/agent/cli.ts';
const SLOW = 90_000;

const processes: Started[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];

beforeAll(async () => {
  // Cluster-scoped and shared by every test file: server-side apply, as the other files do (a plain
  // create here would make their apply conflict over field ownership).
  await ensureCrds(kc);
});

afterAll(async () => {
  for (const p of processes.splice(0)) await stopProcess(p.child, 'SIGKILL');
  for (const d of dirs.splice(0)) d.remove();
});

let nsCounter = 0;
async function setup(prefix: string, users: string[]): Promise<{ ns: string; usersFile: string; dir: string }> {
  const ns = `${prefix}-${process.pid}-${Date.now().toString(36)}-${nsCounter++}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const t = xfceTemplate(ns);
  t.spec = { ...t.spec, resources: { requests: { cpu: '10m', memory: '16Mi' } } };
  await custom.createNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'templates', body: t });
  const d = tempDir(prefix);
  dirs.push(d);
  const usersFile = join(d.path, 'users.yaml');
  for (const u of users) expect((await runCli(CLI, ['users', 'add', u, '--file', usersFile, '--password-stdin'], `${u}-pw`)).code).toBe(0);
  return { ns, usersFile, dir: d.path };
}

/** A real agent process; each call gets its own (empty) data dir, as an agent pod's emptyDir. */
let dataDirs = 0;
async function serve(s: { ns: string; usersFile: string; dir: string }): Promise<{ url: string; proc: Started }> {
  const proc = await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: s.ns, users: s.usersFile, dataDir: join(s.dir, `data${dataDirs++}`) });
  processes.push(proc);
  return { url: proc.match[1]!, proc };
}

async function post(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const signIn = async (url: string, user: string) => TokenResponse.parse((await post(url, routes.login, { username: user, password: `${user}-pw` })).body);
const refresh = (url: string, refreshToken: string) => post(url, routes.refresh, { refreshToken });

describe.concurrent('token state shared by replicas through the cluster', { timeout: 200_000 }, () => {
  it('a refresh token from replica A refreshes on B; the rotated one presented again on A revokes the family; forged tokens get 401', async () => {
    const s = await setup('rt-refresh', ['alice', 'bob']);
    const [a, b] = await Promise.all([serve(s), serve(s)]);

    const login = await signIn(a.url, 'alice');
    const onB = await refresh(b.url, login.refreshToken);
    expect(onB.status).toBe(200);
    const rotated = TokenResponse.parse(onB.body);
    expect(rotated.user.name).toBe('alice');
    expect(rotated.refreshToken).not.toBe(login.refreshToken);
    // The new token works on A too (and rotates again there).
    const onA = await refresh(a.url, rotated.refreshToken);
    expect(onA.status).toBe(200);
    const third = TokenResponse.parse(onA.body);

    // The first (rotated) token again, on A: reuse, the whole family is signed out...
    const replay = await refresh(a.url, login.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/already used once/);
    // ...so the newest token of that family stops working on either replica.
    const after = await refresh(b.url, third.refreshToken);
    expect(after.status).toBe(401);
    expect(after.body.error.message).toMatch(/not valid \(signed out, or never issued here\)/);

    // Another sign-in of the same user is another family: untouched by that revocation.
    const other = await signIn(b.url, 'alice');
    expect((await refresh(a.url, other.refreshToken)).status).toBe(200);

    // Forged, altered and foreign tokens: 401 with the usual sentence, on both replicas.
    const bob = await signIn(b.url, 'bob');
    const altered = bob.refreshToken.slice(0, -4) + (bob.refreshToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const forged = [altered, 'not-a-token', `${userKey('alice')}.forged`, `${userKey('nobody')}.${'x'.repeat(43)}`];
    for (const [i, token] of forged.entries()) {
      const r = await refresh(i % 2 ? a.url : b.url, token);
      expect(r.status).toBe(401);
      expect(r.body.error.message).toBe('The refresh token is not valid (signed out, or never issued here); sign in again');
    }
    expect((await refresh(a.url, bob.refreshToken)).status).toBe(200);

    // What is in the cluster: one labelled Secret per user, holding digests only.
    const secret = await core.readNamespacedSecret({ name: refreshSecretName(userKey('alice')), namespace: s.ns });
    expect(secret.metadata?.labels?.['app.kubernetes.io/component']).toBe(REFRESH_COMPONENT);
    const stored = Buffer.from(Object.values(secret.data ?? {})[0]!, 'base64').toString('utf8');
    expect(stored).not.toContain(other.refreshToken);
    expect(stored).not.toContain(other.refreshToken.split('.')[1]);
  });

  it('two replicas refreshing the same token at once: exactly one succeeds and the family is revoked', async () => {
    const s = await setup('rt-race', ['carol']);
    const [a, b] = await Promise.all([serve(s), serve(s)]);
    const login = await signIn(a.url, 'carol');
    const results = await Promise.all([refresh(a.url, login.refreshToken), refresh(b.url, login.refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const won = results.findIndex((r) => r.status === 200);
    const winner = TokenResponse.parse(results[won]!.body);
    // The loser saw the token rotated: reuse, so the winner's new token is revoked as well, even on the
    // replica that issued it.
    expect(results[1 - won]!.body.error.message).toMatch(/already used once/);
    expect((await refresh([a, b][won]!.url, winner.refreshToken)).status).toBe(401);
  });

  it('a refresh token survives killing the agent and starting a new one with an empty data dir', async () => {
    const s = await setup('rt-restart', ['dave']);
    const first = await serve(s);
    const login = await signIn(first.url, 'dave');
    await stopProcess(first.proc.child, 'SIGKILL');
    const second = await serve(s);
    const r = await refresh(second.url, login.refreshToken);
    expect(r.status).toBe(200);
    expect(TokenResponse.parse(r.body).user.name).toBe('dave');
  });

  it('a connect URL opened on replica A cannot be opened again on replica B', async () => {
    const s = await setup('rt-connect', ['erin']);
    const [a, b] = await Promise.all([serve(s), serve(s)]);
    const { accessToken } = await signIn(a.url, 'erin');
    expect((await post(a.url, routes.sessions, { template: 'xfce' }, accessToken)).status).toBe(202);
    const id = sessionName('erin', 'xfce');
    await waitFor('Running', async () => {
      const res = await fetch(new URL(routes.session(id), b.url), { headers: { authorization: `Bearer ${accessToken}` } });
      return Session.parse(await res.json()).phase === 'Running' || undefined;
    }, SLOW, 500);

    const connect = await post(b.url, routes.connect(id), {}, accessToken);
    expect(connect.status).toBe(200);
    const path = new URL(connect.body.vnc.url as string);
    const at = (base: string) => `${base.replace('http:', 'ws:')}${path.pathname}${path.search}`;
    const first = await openWs(at(a.url));
    expect(first.kind).toBe('open');
    if (first.kind === 'open') first.ws.close();
    const again = await openWs(at(b.url));
    expect(again).toMatchObject({ kind: 'http', status: 401 });
    expect((again as { body: { error: { message: string } } }).body.error.message).toMatch(/already used/);
    // And not on A either.
    expect(await openWs(at(a.url))).toMatchObject({ kind: 'http', status: 401 });

    // A fresh connect token opens, on B this time; the used ones are Events on the Session.
    const fresh = await post(a.url, routes.connect(id), {}, accessToken);
    const opened = await openWs(at(b.url).replace(path.search, new URL(fresh.body.vnc.url as string).search));
    expect(opened.kind).toBe('open');
    if (opened.kind === 'open') opened.ws.close();
    const events = (await core.listNamespacedEvent({ namespace: s.ns, fieldSelector: `involvedObject.name=${id}` })).items.filter((e) => e.reason === STREAM_OPENED_REASON);
    expect(events).toHaveLength(2);
  });

  it('keys rotate: every replica verifies tokens of the new key at once and of the old one through the overlap; the pre-rotation key is kept', async () => {
    const s = await setup('rt-keys', ['alice']);
    // An agent from before rotation left its one key in the immutable Secret: the ring starts with it.
    const legacy = newSigningKeyPem();
    await core.createNamespacedSecret({ namespace: s.ns, body: { metadata: { name: LEGACY_SIGNING_KEY_SECRET }, immutable: true, data: { 'signing-key.pem': Buffer.from(legacy).toString('base64') } } });
    const [a, b] = await Promise.all([serve(s), serve(s)]);
    const jwks = async (url: string) => Jwks.parse(await (await fetch(new URL(routes.jwks, url))).json()).keys.map((k) => k.kid);
    expect(await jwks(a.url)).toEqual([signingKeyFromPem(legacy).kid]);
    const before = (await signIn(a.url, 'alice')).accessToken;

    const rotated = await runCli(CLI, ['keys', 'rotate', '--runtime', 'kubernetes', '--kubeconfig', inject('kubeconfig'), '--namespace', s.ns]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const secret = await core.readNamespacedSecret({ name: SIGNING_KEYS_SECRET, namespace: s.ns });
    const doc = KeyringDoc.parse(JSON.parse(Buffer.from(secret.data!['keys.json']!, 'base64').toString()));
    expect(doc.keys).toHaveLength(2);
    const fresh = signingKeyFromPem(doc.keys[0]!.pem);
    expect(rotated.stdout.split('\n')[0]).toMatch(new RegExp(`^${fresh.kid} .* signs$`));
    // A token of the new key (as a replica that already reloaded would sign it) works on both at once.
    const signedNew = (await new TokenService(fresh).issueAccessToken('alice')).token;
    const list = (url: string, token: string) => fetch(new URL(routes.sessions, url), { headers: { authorization: `Bearer ${token}` } });
    for (const url of [a.url, b.url]) {
      expect((await list(url, signedNew)).status).toBe(200);
      expect((await list(url, before)).status).toBe(200);
      expect(await jwks(url)).toEqual([fresh.kid, signingKeyFromPem(legacy).kid]);
    }
    // A key the ring never had is refused.
    const foreign = (await new TokenService(signingKeyFromPem(newSigningKeyPem())).issueAccessToken('alice')).token;
    expect((await list(b.url, foreign)).status).toBe(401);
  });
});
