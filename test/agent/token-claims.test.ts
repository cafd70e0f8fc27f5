/**
 * Tokens signed with the agent's real key but missing a claim the agent always sets are refused,
 * and the 401 says which claim. (A token without `exp` would otherwise be valid for ever.)
 */
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { loadOrCreateSigningKey } from '../../cluster-agent/state/signing-key-file.js';
import type { SigningKey } from '../../cluster-agent/state/signing-keys.js';
import { call, openWs, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
let key: SigningKey;
beforeAll(async () => {
  t = await startTestAgent({ alice: { password: 'alice-pw' } });
  key = await loadOrCreateSigningKey(join(t.dir.path, 'agent'));
});
afterAll(async () => {
  await t?.cleanup();
});

type Claim = 'iss' | 'aud' | 'sub' | 'iat' | 'exp' | 'jti' | 'sid';

/** What the agent itself puts in a token, minus `omit`, signed with the agent's own key. */
async function sign(kind: 'access' | 'connect', omit?: Claim): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    typ: kind,
    iss: 'porthole-agent',
    aud: kind === 'access' ? 'porthole-api' : 'porthole-stream',
    sub: 'alice',
    iat: now,
    exp: now + 60,
    ...(kind === 'connect' ? { jti: `j-${Math.random()}`, sid: 's-nosuch' } : {}),
  };
  if (omit) delete claims[omit];
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(key.privateKey);
}

describe('token claims', () => {
  it('an access token with every claim works (so the refusals below are about the missing claim)', async () => {
    expect((await call(t.agent.url, 'GET', routes.me, { token: await sign('access') })).status).toBe(200);
  });

  for (const claim of ['exp', 'iat', 'aud', 'iss', 'sub'] as const) {
    it(`refuses an access token without "${claim}" with 401 naming the claim`, async () => {
      const r = await call(t.agent.url, 'GET', routes.me, { token: await sign('access', claim) });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: 'unauthorized', message: `The access token is not valid (it has no "${claim}" claim); sign in again`, reason: 'token_invalid' } });
    });
  }

  it('refuses an access token that claims to live longer than 15 minutes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forever = await new SignJWT({ typ: 'access', iss: 'porthole-agent', aud: 'porthole-api', sub: 'alice', iat: now - 3600, exp: now + 10 * 365 * 86400 })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
      .sign(key.privateKey);
    const r = await call(t.agent.url, 'GET', routes.me, { token: forever });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/expired/);
  });

  for (const claim of ['exp', 'iat', 'aud', 'iss', 'sub', 'jti', 'sid'] as const) {
    it(`refuses a connect token without "${claim}" before the upgrade, naming the claim`, async () => {
      const url = `${t.agent.url.replace('http:', 'ws:')}${routes.vnc('s-nosuch')}?token=${await sign('connect', claim)}`;
      const r = await openWs(url);
      expect(r).toMatchObject({ kind: 'http', status: 401 });
      expect((r as { body: { error: { message: string } } }).body.error).toEqual({ code: 'unauthorized', message: `The connect token is not valid (it has no "${claim}" claim)`, reason: 'connect_token_invalid' });
    });
  }
});
