/**
 * The Bearer-token check for API routes: sets request.principal, or answers 401. An expired token
 * gets its own message and an RFC 6750 WWW-Authenticate error_description, so the launcher knows to
 * refresh rather than ask for the password again.
 */
import { REVOKED_MESSAGE } from './device-registry.js';
import type { FastifyRequest } from 'fastify';
import { TokenError } from './access-tokens.js';
import { unauthorized } from './api-error.js';
import type { AgentDeps } from './deps.js';
import type { Principal } from './entitlement.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

const challenge = (error: string, description: string) => ({
  'www-authenticate': `Bearer realm="porthole", error="${error}", error_description="${description}"`,
});

export function makeAuthenticate(deps: Pick<AgentDeps, 'tokens' | 'identity' | 'devices'>) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      throw unauthorized('Sign in first: send the access token from /api/v1/auth/login as "Authorization: Bearer <token>"', 'token_missing', {
        'www-authenticate': 'Bearer realm="porthole"',
      });
    }
    let claims: { name: string; idp?: string; groups?: string[]; device?: string };
    try {
      claims = await deps.tokens.verifyAccessClaims(token);
    } catch (err) {
      if (err instanceof TokenError && err.problem === 'expired') {
        throw unauthorized('The access token has expired; refresh it with /api/v1/auth/refresh', 'token_expired', challenge('invalid_token', 'expired'));
      }
      const detail = err instanceof TokenError && err.detail ? ` (${err.detail})` : '';
      throw unauthorized(`The access token is not valid${detail}; sign in again`, 'token_invalid', challenge('invalid_token', 'invalid'));
    }
    const { name } = claims;
    // A sign-in made on an enrolled device ends the moment the device is revoked, not when its token runs out.
    if (claims.device && (await deps.devices.isRevoked(claims.device))) throw unauthorized(REVOKED_MESSAGE, 'device_revoked', challenge('invalid_token', 'device revoked'));
    const device = claims.device ? { device: claims.device } : {};
    // Groups travel in the token. Local accounts (the users file, and tokens from before groups were
    // carried) are also checked against the file, which costs a stat: a deleted one stops at once.
    if (claims.idp === undefined || claims.idp === 'users') {
      const user = await deps.identity.users.lookup(name);
      if (!user) throw unauthorized(`The account "${name}" no longer exists on this agent; ask an administrator`, 'unknown_user', challenge('invalid_token', 'unknown user'));
      req.principal = { name: user.name, groups: user.groups, ...device };
      return;
    }
    const guest = claims.idp === 'guest' ? deps.identity.guest : undefined;
    if (claims.idp === 'guest' && !guest) throw unauthorized('Guest sign-in is no longer offered here; sign in with an account', 'token_invalid', challenge('invalid_token', 'invalid'));
    req.principal = { name, groups: claims.groups ?? [], ...(guest ? { onlyTemplates: guest.templates } : {}), ...device };
  };
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized('Sign in first', 'token_missing');
  return req.principal;
}
