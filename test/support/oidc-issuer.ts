/**
 * A real OpenID Connect issuer for the tests (`oidc-provider` from npm) on loopback, with its own login
 * pages (the development interactions), public PKCE clients, and a signing key the test holds too, so
 * a test can also mint tokens that are well signed but wrong (expired, another issuer). `signIn` goes
 * through the real authorization code flow with PKCE over HTTP, as a browser would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface Issuer {
  issuer: string;
  /** the issuer's signing key (private), as it publishes it in its JWKS */
  key: CryptoKey;
  kid: string;
  /** people and their groups */
  groups: Record<string, string[]>;
  signIn(user: string, clientId?: string): Promise<{ idToken: string }>;
  stop(): Promise<void>;
}

const REDIRECT = 'http://127.0.0.1:7/callback';

export async function startIssuer(opts: { clients?: string[]; groups?: Record<string, string[]> } = {}): Promise<Issuer> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const groups = opts.groups ?? {};
  const server: Server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: (opts.clients ?? ['porthole']).map((id) => ({ client_id: id, application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'] })),
    jwks: { keys: [jwk] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    // The claims go into the ID token itself (the agent sees only that), not just /userinfo.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, preferred_username: id, name: id, groups: groups[id] ?? [] }) }),
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-cookie-key'] },
    ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Grant: 600, Interaction: 600, Session: 600 },
  });
  // The development interactions print a warning on every start; they are what a test needs here.
  server.on('request', provider.callback());

  async function signIn(user: string, clientId = 'porthole'): Promise<{ idToken: string }> {
    const jar = new Map<string, string>();
    const remember = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const [name, ...v] = pair!.split('=');
        jar.set(name!, v.join('='));
      }
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const go = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(new URL(url, issuer), { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: cookie() } });
      remember(res);
      return res;
    };
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid profile groups', redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', state: 's', nonce: 'n' });
    let res = await go(`/auth?${q}`);
    let code: string | undefined;
    for (let hop = 0; hop < 12 && !code; hop++) {
      const location = res.headers.get('location');
      if (location?.startsWith(REDIRECT)) {
        code = new URL(location).searchParams.get('code') ?? undefined;
        if (!code) throw new Error(`the issuer refused: ${location}`);
        break;
      }
      if (location) {
        res = await go(location);
        continue;
      }
      // A login or consent page: submit it as a person would.
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`unexpected page from the issuer (HTTP ${res.status}): ${html.slice(0, 300)}`);
      const body = new URLSearchParams(prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt });
      res = await go(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    }
    if (!code) throw new Error('no authorization code after the login');
    const token = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier }),
    });
    const json = (await token.json()) as { id_token?: string; error?: string; error_description?: string };
    if (!json.id_token) throw new Error(`token endpoint: ${json.error}: ${json.error_description}`);
    return { idToken: json.id_token };
  }

  return {
    issuer,
    key: privateKey,
    kid,
    groups,
    signIn,
    stop: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
