/**
 * "Sign in with <company>": OpenID Connect for native apps (RFC 8252) in the system browser, never in
 * the app's own window. The core listens on a loopback port for the redirect, runs the authorization
 * code flow with PKCE (S256), checks `state` and `nonce`, and hands the ID token to the agent, which
 * verifies its signature and claims (POST /auth/oidc). One flow at a time; it ends after five minutes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { allowedIssuerUrl, type AuthProviders } from '../../cluster-agent/contract/index.js';
import { PortholeError } from '../../bridge/contract.js';

const Discovery = z.object({ issuer: z.string(), authorization_endpoint: z.string(), token_endpoint: z.string() });
const TIMEOUT_MS = 5 * 60_000;

const b64url = (b: Buffer) => b.toString('base64url');
const refused = (message: string) => new PortholeError('sign_in_refused', message);

/** Pure: the nonce inside an ID token's payload (the agent checks the signature; the launcher its own nonce). */
export function idTokenNonce(idToken: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { nonce?: unknown };
    return typeof payload.nonce === 'string' ? payload.nonce : undefined;
  } catch {
    return undefined;
  }
}

const PAGE = (text: string) => `<!doctype html><meta charset="utf-8"><title>Porthole</title><body style="font:16px system-ui;margin:3em"><h1>Porthole</h1><p>${text}</p></body>`;

export interface CompanySignInFlow {
  /** where the browser goes first: the issuer's authorization endpoint with our parameters */
  url: string;
  /** the ID token, once the person signed in at the issuer and the code was exchanged */
  idToken: Promise<string>;
  cancel(): void;
}

export async function startCompanySignIn(oidc: NonNullable<AuthProviders['oidc']>, fetchFn: typeof fetch = fetch): Promise<CompanySignInFlow> {
  if (!allowedIssuerUrl(oidc.issuer)) throw refused(`The agent names the sign-in service ${oidc.issuer}, which is not on https://; ask an administrator`);
  let doc: z.infer<typeof Discovery>;
  try {
    const res = await fetchFn(`${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
    doc = Discovery.parse(await res.json());
  } catch (error) {
    throw new PortholeError('agent_unreachable', `The sign-in service ${oidc.issuer} cannot be reached (${(error as Error).message}); try again in a moment`);
  }
  if (doc.issuer !== oidc.issuer || !allowedIssuerUrl(doc.authorization_endpoint) || !allowedIssuerUrl(doc.token_endpoint)) throw refused(`The sign-in service ${oidc.issuer} describes itself inconsistently; ask an administrator`);

  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const server: Server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const params = new URLSearchParams({
    client_id: oidc.clientId,
    response_type: 'code',
    scope: oidc.scopes.join(' '),
    redirect_uri: redirectUri,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const url = `${doc.authorization_endpoint}?${params}`;

  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections();
  };
  const idToken = new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => {
      finish();
      reject(refused('The sign-in with your company account was not finished within five minutes; start it again'));
    }, TIMEOUT_MS);
    timer.unref();
    server.on('request', (req, res) => {
      const got = new URL(req.url ?? '/', redirectUri);
      if (got.pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      const answer = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE(text));
      // Another page sending the browser here with its own code must not sign anyone in.
      if (got.searchParams.get('state') !== state) {
        answer(400, 'This sign-in answer does not belong to the sign-in Porthole started. Start it again from Porthole.');
        return;
      }
      const error = got.searchParams.get('error');
      const code = got.searchParams.get('code');
      if (error || !code) {
        answer(400, 'The sign-in was not completed. You can close this window.');
        finish();
        reject(refused(`The sign-in service refused: ${got.searchParams.get('error_description') ?? error ?? 'no authorization code'}`));
        return;
      }
      void (async () => {
        try {
          const res2 = await fetchFn(doc.token_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
            body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: oidc.clientId, code_verifier: verifier }),
            signal: AbortSignal.timeout(10_000),
          });
          const body = (await res2.json()) as { id_token?: unknown; error?: string; error_description?: string };
          if (typeof body.id_token !== 'string') throw refused(`The sign-in service gave no ID token (${body.error_description ?? body.error ?? `HTTP ${res2.status}`})`);
          if (idTokenNonce(body.id_token) !== nonce) throw refused('The sign-in service answered for another sign-in (nonce); start it again');
          answer(200, 'You are signed in. You can close this window and go back to Porthole.');
          finish();
          resolve(body.id_token);
        } catch (e) {
          answer(502, 'The sign-in could not be completed. Go back to Porthole for the reason.');
          finish();
          reject(e instanceof PortholeError ? e : refused(`The sign-in could not be completed: ${(e as Error).message}`));
        }
      })();
    });
  });
  idToken.catch(() => undefined);
  return {
    url,
    idToken,
    cancel: () => finish(),
  };
}
