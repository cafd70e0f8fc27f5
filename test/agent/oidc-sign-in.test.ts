/**
 * Sign-in with a real OpenID Connect issuer (`oidc-provider`, test/support/oidc-issuer.ts): an ID token
 * from the authorization code flow with PKCE signs a person in with their groups deciding templates;
 * ID tokens expired, for another client, from another issuer, signed by another key, with `alg: none`,
 * or without a user name are 401 with a sentence; a kid the issuer never published is refused;
 * refresh keeps the person; an issuer that is down is a 503; /auth/providers tells the sign-in screen.
 */
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { allowedAlgorithms, allowedIssuerUrl, OidcProvider } from '../../cluster-agent/identity/oidc.js';
import { startIssuer, type Issuer } from '../support/oidc-issuer.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let idp: Issuer;
let t: TestAgent;
let url: string;

beforeAll(async () => {
  idp = await startIssuer({ clients: ['porthole', 'other-app'], groups: { olga: ['designers'], pete: [] } });
  t = await startTestAgent({}, { oidc: new OidcProvider({ issuer: idp.issuer, clientId: 'porthole' }), restrict: { terminal: { allowedGroups: ['designers'] } } });
  url = t.agent.url;
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
  await idp?.stop();
});

const oidcLogin = (idToken: string) => call(url, 'POST', routes.oidcLogin, { json: { idToken } });
/** A token signed with the issuer's own key: well signed, with whatever claims the test wants. */
const minted = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  new SignJWT({ preferred_username: 'olga', ...claims }).setProtectedHeader({ alg: 'RS256', kid: idp.kid, ...header }).setIssuer(String(claims.iss ?? idp.issuer)).setAudience(String(claims.aud ?? 'porthole')).setSubject('olga').setIssuedAt(Number(claims.iat ?? Math.floor(Date.now() / 1000))).setExpirationTime(Number(claims.exp ?? Math.floor(Date.now() / 1000) + 300)).sign(idp.key);

describe('rules (pure)', () => {
  it('takes https issuers, and http only on loopback; asymmetric algorithms only', () => {
    expect(allowedIssuerUrl('https://idp.example.org/realms/acme')).toBe(true);
    expect(allowedIssuerUrl('http://127.0.0.1:8080')).toBe(true);
    expect(allowedIssuerUrl('http://[::1]:8080')).toBe(true);
    expect(allowedIssuerUrl('http://idp.example.org')).toBe(false);
    expect(allowedIssuerUrl('http://127.0.0.1.example.org')).toBe(false);
    expect(allowedAlgorithms(['none', 'HS256', 'RS256', 'ES256'])).toEqual(['RS256', 'ES256']);
    expect(() => new OidcProvider({ issuer: 'http://idp.example.org', clientId: 'x' })).toThrow(/must be an https:\/\/ URL/);
  });
});

describe('OpenID Connect sign-in against oidc-provider', { timeout: 60_000 }, () => {
  it('tells the sign-in screen, and signs in with the ID token of a real code flow; groups decide templates; refresh keeps the person', async () => {
    expect((await call(url, 'GET', routes.providers)).body).toEqual({ password: true, oidc: { issuer: idp.issuer, clientId: 'porthole', scopes: ['openid', 'profile', 'email'] } });
    const olga = await oidcLogin((await idp.signIn('olga')).idToken);
    expect(olga.status, JSON.stringify(olga.body)).toBe(200);
    expect(olga.body.user).toEqual({ name: 'olga', groups: ['designers'] });
    const names = async (token: string) => (await call(url, 'GET', routes.templates, { token })).body.templates.map((x: { name: string }) => x.name);
    expect(await names(olga.body.accessToken)).toContain('terminal');
    const pete = await oidcLogin((await idp.signIn('pete')).idToken);
    expect(pete.status).toBe(200);
    expect(await names(pete.body.accessToken)).not.toContain('terminal');
    const refreshed = await call(url, 'POST', routes.refresh, { json: { refreshToken: olga.body.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user).toEqual({ name: 'olga', groups: ['designers'] });
  });

  it('refuses ID tokens that are expired, for another client, from another issuer, signed by another key, unsigned, or nameless', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expectRefused = async (token: string, message: RegExp) => {
      const r = await oidcLogin(token);
      expect(r.status, JSON.stringify(r.body)).toBe(401);
      expect(r.body.error.message).toMatch(message);
      expect(r.body.error.reason).toMatch(/^(id_token_rejected|unusable_name)$/);
    };
    expect((await oidcLogin(await minted({}))).status).toBe(200); // the harness's own token is good
    await expectRefused(await minted({ iat: now - 900, exp: now - 600 }), /the ID token has expired/);
    await expectRefused((await idp.signIn('olga', 'other-app')).idToken, /for another application/);
    await expectRefused(await minted({ iss: 'http://127.0.0.1:1' }), /from another issuer/);
    const stranger = (await generateKeyPair('RS256')).privateKey;
    const forged = await new SignJWT({ preferred_username: 'olga' }).setProtectedHeader({ alg: 'RS256', kid: idp.kid }).setIssuer(idp.issuer).setAudience('porthole').setSubject('olga').setIssuedAt().setExpirationTime('5m').sign(stranger);
    await expectRefused(forged, /not signed by the issuer/);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    await expectRefused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: 'porthole', sub: 'olga', preferred_username: 'olga', iat: now, exp: now + 300 })}.`, /algorithm the issuer does not use|not valid/);
    await expectRefused(await minted({ preferred_username: undefined }), /no usable "preferred_username" claim/);
    await expectRefused(await minted({ preferred_username: 'olga@example.org' }), /The name "olga@example\.org" from the sign-in service cannot be used here/);
    const upper = await oidcLogin(await minted({ preferred_username: 'Olga' }));
    expect(upper.body.user?.name).toBe('olga');
    const malformed = await oidcLogin('not.a.jwt');
    expect(malformed.status).toBe(401);
  });

  it('refuses a kid the issuer never published (after asking it again); an issuer that is down is a 503; no issuer is a 404', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const unknownKid = await new SignJWT({ preferred_username: 'olga' }).setProtectedHeader({ alg: 'RS256', kid: 'rotated-later' }).setIssuer(idp.issuer).setAudience('porthole').setSubject('olga').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect((await oidcLogin(unknownKid)).status).toBe(401);

    const down = await startTestAgent({}, { oidc: new OidcProvider({ issuer: 'http://127.0.0.1:1', clientId: 'porthole' }) });
    try {
      const r = await call(down.agent.url, 'POST', routes.oidcLogin, { json: { idToken: await minted({}) } });
      expect(r.status).toBe(503);
      expect(r.body.error.message).toMatch(/sign-in service \(http:\/\/127\.0\.0\.1:1\) cannot be reached/);
      const none = await call(down.agent.url, 'POST', routes.login, { json: { username: 'x', password: 'y' } });
      expect(none.status).toBe(401);
    } finally {
      await down.cleanup();
    }
    const noOidc = await startTestAgent({});
    try {
      const r = await call(noOidc.agent.url, 'POST', routes.oidcLogin, { json: { idToken: 'x' } });
      expect(r.status).toBe(404);
      expect(r.body.error.message).toMatch(/no OpenID Connect issuer configured/);
    } finally {
      await noOidc.cleanup();
    }
  });
});
