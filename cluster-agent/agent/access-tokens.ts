/**
 * Short-lived access tokens (JWT, EdDSA) and the one-minute, single-use connect tokens that open a
 * stream. Both are signed with the agent's key; `typ` and `aud` differ so neither can stand in for
 * the other.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { SigningKey } from './signing-key.js';

const ISSUER = 'porthole-agent';
const ACCESS_AUDIENCE = 'porthole-api';
const CONNECT_AUDIENCE = 'porthole-stream';
export const ACCESS_TOKEN_SECONDS = 15 * 60;
export const CONNECT_TOKEN_SECONDS = 60;

/** Why a token was refused, so the API can tell "refresh and retry" from "sign in again". */
export type TokenProblem = 'missing' | 'expired' | 'invalid' | 'reused' | 'wrong_session';

export class TokenError extends Error {
  constructor(
    readonly problem: TokenProblem,
    message: string,
    /** what exactly is wrong, when it is more than "bad signature": e.g. 'it has no "exp" claim' */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * Every token this agent issues carries all of these; one without any of them was not made here
 * (or was made to live for ever), so it is refused rather than trusted with defaults.
 */
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'iat', 'exp'];

function invalid(what: string, detail?: string): TokenError {
  return new TokenError('invalid', `The ${what} is not valid (${detail ?? 'not signed by this agent, or altered'})`, detail);
}

function classify(err: unknown, what: string): TokenError {
  if (err instanceof joseErrors.JWTExpired) return new TokenError('expired', `The ${what} has expired`);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return invalid(what, err.reason === 'missing' ? `it has no "${err.claim}" claim` : `its "${err.claim}" claim is wrong`);
  }
  if (err instanceof TokenError) return err;
  return invalid(what);
}

export interface ConnectClaims {
  user: string;
  session: string;
  jti: string;
  expiresAt: Date;
}

/**
 * Remembers which connect tokens were used. claim() is true the first time a token id is claimed and
 * false ever after (until the token has expired anyway). In memory for one agent; in the cluster for
 * replicas (runtime/kubernetes/connect-token-ledger.ts), so a URL opens once across all of them.
 */
export interface ConnectTokenLedger {
  claim(claims: { jti: string; user: string; session: string; exp: number }): Promise<boolean>;
}

export class MemoryConnectTokenLedger implements ConnectTokenLedger {
  /** connect-token ids already used, with their expiry (seconds): remembered until they expire anyway */
  private readonly used = new Map<string, number>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  claim({ jti, exp }: { jti: string; exp: number }): Promise<boolean> {
    const now = this.nowSeconds();
    for (const [id, e] of this.used) if (e < now) this.used.delete(id);
    if (this.used.has(jti)) return Promise.resolve(false);
    this.used.set(jti, exp);
    return Promise.resolve(true);
  }
}

export class TokenService {
  private readonly ledger: ConnectTokenLedger;

  constructor(
    private readonly key: SigningKey,
    private readonly now: () => number = Date.now,
    ledger?: ConnectTokenLedger,
  ) {
    this.ledger = ledger ?? new MemoryConnectTokenLedger(() => this.nowSeconds());
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  async issueAccessToken(user: string): Promise<{ token: string; expiresIn: number }> {
    const iat = this.nowSeconds();
    const token = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.key.kid })
      .setSubject(user)
      .setIssuer(ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ACCESS_TOKEN_SECONDS)
      .sign(this.key.privateKey);
    return { token, expiresIn: ACCESS_TOKEN_SECONDS };
  }

  /** The user name, or TokenError('expired' | 'invalid'). */
  async verifyAccessToken(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, this.key.publicKey, {
        issuer: ISSUER,
        audience: ACCESS_AUDIENCE,
        algorithms: ['EdDSA'],
        currentDate: new Date(this.now()),
        clockTolerance: 0,
        requiredClaims: REQUIRED_CLAIMS,
        maxTokenAge: ACCESS_TOKEN_SECONDS,
      });
      if (payload.typ !== 'access') throw invalid('access token', 'it is not an access token');
      if (typeof payload.sub !== 'string') throw invalid('access token', 'its "sub" claim is wrong');
      return payload.sub;
    } catch (err) {
      throw classify(err, 'access token');
    }
  }

  async issueConnectToken(user: string, session: string): Promise<{ token: string; expiresAt: Date }> {
    const iat = this.nowSeconds();
    const exp = iat + CONNECT_TOKEN_SECONDS;
    const token = await new SignJWT({ typ: 'connect', sid: session })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.key.kid })
      .setSubject(user)
      .setIssuer(ISSUER)
      .setAudience(CONNECT_AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Checks signature, expiry, the session it was issued for, and single use. A successful check
   * consumes the token: the same token opens at most one stream.
   */
  async consumeConnectToken(token: string, session: string): Promise<ConnectClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key.publicKey, {
        issuer: ISSUER,
        audience: CONNECT_AUDIENCE,
        algorithms: ['EdDSA'],
        currentDate: new Date(this.now()),
        clockTolerance: 0,
        maxTokenAge: CONNECT_TOKEN_SECONDS,
        requiredClaims: [...REQUIRED_CLAIMS, 'jti', 'sid'],
      }));
    } catch (err) {
      throw classify(err, 'connect token');
    }
    const { sub, sid, jti, exp } = payload;
    if (payload.typ !== 'connect') throw invalid('connect token', 'it is not a connect token');
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') {
      const claim = typeof sub !== 'string' ? 'sub' : typeof sid !== 'string' ? 'sid' : typeof jti !== 'string' ? 'jti' : 'exp';
      throw invalid('connect token', `its "${claim}" claim is wrong`);
    }
    if (sid !== session) throw new TokenError('wrong_session', 'This connect token was issued for a different session');
    if (!(await this.ledger.claim({ jti, user: sub, session: sid, exp }))) {
      throw new TokenError('reused', 'This connect token was already used; ask for a new one with POST /connect');
    }
    return { user: sub, session: sid, jti, expiresAt: new Date(exp * 1000) };
  }
}
