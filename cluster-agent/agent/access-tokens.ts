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
  ) {
    super(message);
  }
}

function classify(err: unknown, what: string): TokenError {
  if (err instanceof joseErrors.JWTExpired) return new TokenError('expired', `The ${what} has expired`);
  return new TokenError('invalid', `The ${what} is not valid (not signed by this agent, or altered)`);
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
      });
      if (payload.typ !== 'access' || typeof payload.sub !== 'string') throw new Error('not an access token');
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
      }));
    } catch (err) {
      throw classify(err, 'connect token');
    }
    const { sub, sid, jti, exp } = payload;
    if (payload.typ !== 'connect' || typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') {
      throw new TokenError('invalid', 'The connect token is not valid (not signed by this agent, or altered)');
    }
    if (sid !== session) throw new TokenError('wrong_session', 'This connect token was issued for a different session');
    if (!(await this.ledger.claim({ jti, user: sub, session: sid, exp }))) {
      throw new TokenError('reused', 'This connect token was already used; ask for a new one with POST /connect');
    }
    return { user: sub, session: sid, jti, expiresAt: new Date(exp * 1000) };
  }
}
