/**
 * Sign-in with the company's OpenID Connect issuer: the launcher runs the authorization code flow with
 * PKCE in the system browser and hands the ID token to the agent, which verifies it here (jose):
 * discovery, the issuer's JWKS (cached, fetched again when a token names an unknown kid), `iss`, `aud`
 * = our client id, `exp`/`iat` within a small skew, `alg` only from the issuer's own list and never
 * `none` or a shared-secret HMAC; username and groups from configured claims. Issuers must be https://,
 * except on loopback addresses (a development or test issuer on this machine).
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { allowedIssuerUrl } from '../contract/index.js';
import { IdentityUnavailableError, refusal, type Identity, type SignInResult } from './types.js';

export interface OidcConfig {
  issuer: string;
  clientId: string;
  usernameClaim?: string;
  groupsClaim?: string;
  /** what the launcher asks for; default openid, profile, email */
  scopes?: string[];
  clockSkewSeconds?: number;
}

const Discovery = z.object({ issuer: z.string(), jwks_uri: z.string(), authorization_endpoint: z.string(), token_endpoint: z.string(), id_token_signing_alg_values_supported: z.array(z.string()).optional() });
type Discovery = z.infer<typeof Discovery>;

/** Asymmetric JWS algorithms jose verifies; HS* would make the client id's secret a signing key, `none` no signature at all. */
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

export { allowedIssuerUrl };

/** Pure: the algorithms an ID token may use: the issuer's list (RS256 when it gives none), asymmetric only. */
export const allowedAlgorithms = (advertised: string[] | undefined): string[] => (advertised ?? ['RS256']).filter((a) => ASYMMETRIC.has(a));

export class OidcProvider {
  readonly source = 'oidc' as const;
  private discovery: Promise<{ doc: Discovery; keys: JWTVerifyGetKey }> | undefined;

  constructor(readonly cfg: OidcConfig) {
    if (!allowedIssuerUrl(cfg.issuer)) throw new Error(`the issuer ${cfg.issuer} must be an https:// URL (http:// only on a loopback address)`);
  }

  get scopes(): string[] {
    return this.cfg.scopes ?? ['openid', 'profile', 'email'];
  }

  /** Discovery once (again after a failure); the JWKS is jose's remote set, which refetches on an unknown kid. */
  private discover(): Promise<{ doc: Discovery; keys: JWTVerifyGetKey }> {
    this.discovery ??= (async () => {
      const url = `${this.cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
      } catch (err) {
        throw new IdentityUnavailableError(`The sign-in service (${this.cfg.issuer}) cannot be reached (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); try again in a moment`);
      }
      const parsed = res.ok ? Discovery.safeParse(await res.json().catch(() => undefined)) : undefined;
      if (!parsed?.success) throw new IdentityUnavailableError(`The sign-in service (${this.cfg.issuer}) gave no usable discovery document (${url}: HTTP ${res.status}); ask an administrator`);
      const doc = parsed.data;
      // A discovery document naming another issuer, or keys from anywhere, would let others mint our tokens.
      if (doc.issuer !== this.cfg.issuer) throw new IdentityUnavailableError(`The sign-in service's discovery document names the issuer ${doc.issuer}, not ${this.cfg.issuer}; ask an administrator to correct identity.oidc.issuer`);
      if (!allowedIssuerUrl(doc.jwks_uri)) throw new IdentityUnavailableError(`The sign-in service's keys (${doc.jwks_uri}) are not on https://; refusing them`);
      return { doc, keys: createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 }) };
    })().catch((err: unknown) => {
      this.discovery = undefined;
      throw err;
    });
    return this.discovery;
  }

  /** The issuer's endpoints, for the launcher (from discovery). */
  async endpoints(): Promise<{ authorization: string; token: string }> {
    const { doc } = await this.discover();
    return { authorization: doc.authorization_endpoint, token: doc.token_endpoint };
  }

  async verify(idToken: string): Promise<SignInResult> {
    const { doc, keys } = await this.discover();
    const bad = (message: string) => refusal('id_token_rejected', `The sign-in was refused: ${message}; sign in again`);
    let payload;
    try {
      ({ payload } = await jwtVerify(idToken, keys, {
        issuer: this.cfg.issuer,
        audience: this.cfg.clientId,
        algorithms: allowedAlgorithms(doc.id_token_signing_alg_values_supported),
        clockTolerance: this.cfg.clockSkewSeconds ?? 60,
        requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp'],
        maxTokenAge: 24 * 3600,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return bad('the ID token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) return bad(err.claim === 'aud' ? 'the ID token is for another application' : err.claim === 'iss' ? 'the ID token is from another issuer' : `its "${err.claim}" claim is ${err.reason === 'missing' ? 'missing' : 'wrong'}`);
      if (err instanceof joseErrors.JOSEAlgNotAllowed) return bad('the ID token is signed with an algorithm the issuer does not use');
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWSSignatureVerificationFailed) return bad('the ID token is not signed by the issuer');
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch|ECONN/i.test(err.message))) throw new IdentityUnavailableError(`The sign-in service's keys cannot be fetched (${err.message}); try again in a moment`);
      return bad('the ID token is not valid');
    }
    const name = payload[this.cfg.usernameClaim ?? 'preferred_username'];
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(name)) return bad(`the ID token has no usable "${this.cfg.usernameClaim ?? 'preferred_username'}" claim`);
    const rawGroups = payload[this.cfg.groupsClaim ?? 'groups'];
    const groups = Array.isArray(rawGroups) ? [...new Set(rawGroups.filter((g): g is string => typeof g === 'string'))].sort() : [];
    const identity: Identity = { name, groups, idp: 'oidc' };
    return { ok: true, identity };
  }
}
