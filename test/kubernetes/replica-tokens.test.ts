/**
 * The pure parts of the cluster-held token state (refresh-token Secrets, connect-token Events), and the
 * Secret store's optimistic concurrency against a fake API that enforces resourceVersion like the real one.
 */
import type { CoreV1Event, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MemoryConnectTokenLedger } from '../../cluster-agent/state/connect-tokens.js';
import { REFRESH_TOKEN_SECONDS } from '../../cluster-agent/state/refresh-tokens.js';
import { connectTokenEvent, KubernetesConnectTokenLedger } from '../../cluster-agent/runtime/kubernetes/connect-token-ledger.js';
import type { KubeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { decideRotate, keyOfToken, KubernetesRefreshTokens, prune, refreshSecretName, userKey, type Entries } from '../../cluster-agent/state/kubernetes/refresh-token-secrets.js';

const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

/** Secrets and Events with the API server's rules that matter here: names unique, PUT needs the current resourceVersion. */
function fakeApi() {
  const secrets = new Map<string, V1Secret>();
  const events = new Set<string>();
  const calls: string[] = [];
  let rv = 1;
  const core = {
    readNamespacedSecret: ({ name }: { name: string }) => {
      calls.push('get');
      const s = secrets.get(name);
      return s ? Promise.resolve(structuredClone(s)) : Promise.reject(apiError(404));
    },
    createNamespacedSecret: ({ body }: { body: V1Secret }) => {
      calls.push('create');
      const name = body.metadata!.name!;
      if (secrets.has(name)) return Promise.reject(apiError(409));
      const saved = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(rv++) } };
      secrets.set(name, saved);
      return Promise.resolve(structuredClone(saved));
    },
    replaceNamespacedSecret: ({ name, body }: { name: string; body: V1Secret }) => {
      calls.push('update');
      const cur = secrets.get(name);
      if (!cur) return Promise.reject(apiError(404));
      if (body.metadata?.resourceVersion !== cur.metadata?.resourceVersion) return Promise.reject(apiError(409));
      const saved = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(rv++) } };
      secrets.set(name, saved);
      return Promise.resolve(structuredClone(saved));
    },
    createNamespacedEvent: ({ body }: { body: CoreV1Event }) => {
      calls.push('create-event');
      if (events.has(body.metadata.name!)) return Promise.reject(apiError(409));
      events.add(body.metadata.name!);
      return Promise.resolve(body);
    },
  };
  return { clients: { core } as unknown as KubeClients, secrets, calls };
}

describe('refresh tokens in Secrets: pure parts', () => {
  it('tokens name their user key; anything else is not ours and costs no API call', () => {
    const key = userKey('alice');
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(refreshSecretName(key)).toBe(`porthole-refresh-${key}`);
    expect(keyOfToken(`${key}.abc`)).toBe(key);
    for (const bad of ['', 'abc', `${key}`, `${key}.`, `${key.toUpperCase()}.abc`, `../${key.slice(3)}.abc`, `${key}.${'x'.repeat(300)}`]) expect(keyOfToken(bad)).toBeUndefined();
  });

  it('prune drops expired entries, then the oldest rotated ones beyond the cap', () => {
    const tokens: Entries = {
      old: { family: 'f', expiresAt: 5 },
      r1: { family: 'f', expiresAt: 100, rotatedAt: 1 },
      r2: { family: 'f', expiresAt: 100, rotatedAt: 2 },
      live: { family: 'f', expiresAt: 100 },
    };
    expect(Object.keys(prune(tokens, 10))).toEqual(['r1', 'r2', 'live']);
    expect(Object.keys(prune(tokens, 10, 2))).toEqual(['r2', 'live']);
  });

  it('decideRotate: unknown asks for a fresh read, rotated revokes the family, expired writes nothing, valid rotates', () => {
    const mint = () => ({ hash: 'new', token: 'k.new' });
    const tokens: Entries = { a: { family: 'f1', expiresAt: 100 }, b: { family: 'f1', expiresAt: 100, rotatedAt: 5 }, c: { family: 'f2', expiresAt: 100 }, d: { family: 'f3', expiresAt: 1 } };
    expect(decideRotate(tokens, 'zz', 10, mint)).toMatchObject({ result: { outcome: { ok: false, problem: 'unknown' } }, needFresh: true });
    const reuse = decideRotate(tokens, 'b', 10, mint);
    expect(reuse.result.outcome).toEqual({ ok: false, problem: 'reused' });
    expect(Object.keys(reuse.write!)).toEqual(['c', 'd']);
    expect(decideRotate(tokens, 'd', 10, mint)).toEqual({ result: { outcome: { ok: false, problem: 'expired' } } });
    const ok = decideRotate(tokens, 'a', 10, mint);
    expect(ok.result.outcome).toMatchObject({ ok: true, token: 'k.new' });
    expect(ok.write!.a).toEqual({ family: 'f1', expiresAt: 100, rotatedAt: 10 });
    expect(ok.write!.new).toEqual({ family: 'f1', expiresAt: 10 + REFRESH_TOKEN_SECONDS * 1000 });
  });
});

describe('KubernetesRefreshTokens against a resourceVersion-checking fake API', () => {
  it('two replicas: issue on one, rotate on the other, reuse across them revokes the family; API calls per operation', async () => {
    const api = fakeApi();
    const a = new KubernetesRefreshTokens(api.clients, 'ns');
    const b = new KubernetesRefreshTokens(api.clients, 'ns');
    const t1 = await a.issue('alice');
    expect(api.calls.splice(0)).toEqual(['get', 'create']);
    const r1 = await b.rotate(t1);
    expect(r1).toMatchObject({ ok: true, user: 'alice' });
    expect(api.calls.splice(0)).toEqual(['get', 'update']);
    // B touched it last: its next refresh is one PUT.
    const r2 = await b.rotate((r1 as { token: string }).token);
    expect(r2.ok).toBe(true);
    expect(api.calls.splice(0)).toEqual(['update']);
    // A's cache is stale: its PUT gets 409, it re-reads and sees the rotation -> reuse.
    expect(await a.rotate(t1)).toEqual({ ok: false, problem: 'reused' });
    expect(await b.rotate((r2 as { token: string }).token)).toEqual({ ok: false, problem: 'unknown' });
    expect(JSON.stringify([...api.secrets.values()])).not.toContain((r2 as { token: string }).token.split('.')[1]);
  });

  it('the same token refreshed on two replicas at once: one wins, the other sees reuse', async () => {
    const api = fakeApi();
    const a = new KubernetesRefreshTokens(api.clients, 'ns');
    const b = new KubernetesRefreshTokens(api.clients, 'ns');
    const t = await a.issue('bob');
    await b.issue('bob'); // both replicas now hold a cached version; a's is stale
    const results = await Promise.all([a.rotate(t), b.rotate(t)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, problem: 'reused' });
  });

  it('forged tokens: no call for a malformed one, one GET for a well-formed unknown one; logout is idempotent', async () => {
    const api = fakeApi();
    const store = new KubernetesRefreshTokens(api.clients, 'ns');
    expect(await store.rotate('garbage')).toEqual({ ok: false, problem: 'unknown' });
    expect(api.calls).toEqual([]);
    expect(await store.rotate(`${userKey('x')}.forged`)).toEqual({ ok: false, problem: 'unknown' });
    expect(api.calls.splice(0)).toEqual(['get']);
    const t = await store.issue('carol');
    await store.revoke(t);
    await store.revoke(t);
    expect(await store.rotate(t)).toEqual({ ok: false, problem: 'unknown' });
  });

  it('expired entries are pruned on write', async () => {
    let now = 1_000;
    const api = fakeApi();
    const store = new KubernetesRefreshTokens(api.clients, 'ns', () => now);
    const old = await store.issue('dan');
    now += REFRESH_TOKEN_SECONDS * 1000 + 1;
    expect(await store.rotate(old)).toEqual({ ok: false, problem: 'expired' });
    await store.issue('dan');
    const doc = JSON.parse(Buffer.from(Object.values(api.secrets.values().next().value!.data!)[0]!, 'base64').toString('utf8')) as { tokens: Entries };
    expect(Object.keys(doc.tokens)).toHaveLength(1);
  });
});

describe('connect tokens: single use through named Events', () => {
  it('the Event name is derived from the token id only, and the second claim is refused', async () => {
    const claims = { jti: '0b7c9c52-1111-4222-8333-444455556666', user: 'alice', session: 'alice-xfce' };
    const e1 = connectTokenEvent('ns', claims, 'replica-a', 1);
    const e2 = connectTokenEvent('ns', claims, 'replica-b', 2);
    expect(e1.metadata.name).toBe(e2.metadata.name);
    expect(e1.metadata.name).toMatch(/^alice-xfce\.connect-[0-9a-f]{32}$/);
    expect(e1.metadata.name).not.toContain(claims.jti);
    expect(connectTokenEvent('ns', { ...claims, jti: 'other' }, 'a', 1).metadata.name).not.toBe(e1.metadata.name);

    const api = fakeApi();
    const [a, b] = [new KubernetesConnectTokenLedger(api.clients, 'ns', 'a'), new KubernetesConnectTokenLedger(api.clients, 'ns', 'b')];
    expect(await a.claim({ ...claims, exp: 100 })).toBe(true);
    expect(await b.claim({ ...claims, exp: 100 })).toBe(false);
    expect(api.calls).toEqual(['create-event', 'create-event']);
  });

  it('the in-memory ledger forgets ids once they expired', async () => {
    let now = 10;
    const l = new MemoryConnectTokenLedger(() => now);
    expect(await l.claim({ jti: 'x', exp: 20 })).toBe(true);
    expect(await l.claim({ jti: 'x', exp: 20 })).toBe(false);
    now = 21;
    expect(await l.claim({ jti: 'x', exp: 20 })).toBe(true);
  });
});
