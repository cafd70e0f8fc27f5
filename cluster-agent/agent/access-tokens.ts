/**
 * Short-lived access tokens (JWT, EdDSA) and the one-minute, single-use connect tokens that open a
 * stream. Both are signed with the agent's key; `typ` and `aud` differ so neither can stand in for
 * the other.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { MemoryConnectTokenLedger, type ConnectTokenLedger } from '../state/connect-tokens.js';
import type { SigningKey } from '../state/signing-keys.js';

/** The keys tokens are signed with (the current one) and verified against (any live one, by kid). */
export interface KeySource {
  readonly current: SigningKey;
  find(kid: string | undefined): Promise<SigningKey | undefined>;
}

/** One fixed key (tests, tools). */
export const singleKey = (key: SigningKey): KeySource => ({ current: key, find: (kid) => Promise.resolve(kid === key.kid ? key : undefined) });

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
  /** the launcher that asked for it (POST connect's `device`) */
  device?: string;
  /** the person asked to open the desktop there, ending other devices' streams */
  takeOver: boolean;
}

export class TokenService {
  private readonly ledger: ConnectTokenLedger;
  private readonly keys: KeySource;

  constructor(
    keys: KeySource | SigningKey,
    private readonly now: () => number = Date.now,
    ledger?: ConnectTokenLedger,
  ) {
    this.keys = 'privateKey' in keys ? singleKey(keys) : keys;
    this.ledger = ledger ?? new MemoryConnectTokenLedger(() => this.nowSeconds());
  }

  /** jose's key resolver: the live key the token's header names; none is "not signed by this agent". */
  private readonly verifyKey = async (header: { kid?: string }) => {
    const key = await this.keys.find(header.kid);
    if (!key) throw new Error('no live key of this agent has this kid'); // classify: "not signed by this agent"
    return key.publicKey;
  };

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** `as`: the provider that vouched for the person and their groups at sign-in, carried in the token. */
  async issueAccessToken(user: string, as?: { idp: string; groups: string[]; device?: string }): Promise<{ token: string; expiresIn: number }> {
    const iat = this.nowSeconds();
    const token = await new SignJWT({ typ: 'access', ...(as ? { idp: as.idp, groups: as.groups } : {}), ...(as?.device ? { dev: as.device } : {}) })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keys.current.kid })
      .setSubject(user)
      .setIssuer(ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ACCESS_TOKEN_SECONDS)
      .sign(this.keys.current.privateKey);
    return { token, expiresIn: ACCESS_TOKEN_SECONDS };
  }

  /** The user name, or TokenError('expired' | 'invalid'). */
  async verifyAccessToken(token: string): Promise<string> {
    return (await this.verifyAccessClaims(token)).name;
  }

  /** Name, and the provider and groups when the token carries them; or TokenError('expired' | 'invalid'). */
  async verifyAccessClaims(token: string): Promise<{ name: string; idp?: string; groups?: string[]; device?: string }> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, {
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
      const { idp, groups } = payload;
      if (idp !== undefined && typeof idp !== 'string') throw invalid('access token', 'its "idp" claim is wrong');
      if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) throw invalid('access token', 'its "groups" claim is wrong');
      if (payload.dev !== undefined && typeof payload.dev !== 'string') throw invalid('access token', 'its "dev" claim is wrong');
      const device = payload.dev as string | undefined;
      return { name: payload.sub, ...(idp !== undefined ? { idp } : {}), ...(groups !== undefined ? { groups: groups as string[] } : {}), ...(device ? { device } : {}) };
    } catch (err) {
      throw classify(err, 'access token');
    }
  }

  /** `viewer`: the device asking and whether the person asked to open it there (roaming, viewers.ts). */
  async issueConnectToken(user: string, session: string, viewer: { device?: string; takeOver?: boolean } = {}): Promise<{ token: string; expiresAt: Date }> {
    const iat = this.nowSeconds();
    const exp = iat + CONNECT_TOKEN_SECONDS;
    const token = await new SignJWT({ typ: 'connect', sid: session, ...(viewer.device ? { dev: viewer.device } : {}), ...(viewer.takeOver ? { tko: true } : {}) })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keys.current.kid })
      .setSubject(user)
      .setIssuer(ISSUER)
      .setAudience(CONNECT_AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.keys.current.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Checks signature, expiry, the session it was issued for, and single use. A successful check
   * consumes the token: the same token opens at most one stream.
   */
  async consumeConnectToken(token: string, session: string): Promise<ConnectClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyKey, {
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
    const device = typeof payload.dev === 'string' ? payload.dev : undefined;
    return { user: sub, session: sid, jti, expiresAt: new Date(exp * 1000), ...(device ? { device } : {}), takeOver: payload.tko === true };
  }
}
