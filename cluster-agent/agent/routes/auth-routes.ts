/** Sign-in, token refresh (rotating), sign-out, the signing keys' public halves. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AuthProviders, DEVICE_PROOF_HEADER, EnrolledDevice, EnrollDeviceRequest, ErrorBody, Jwks, LoginRequest, OidcLoginRequest, RefreshRequest, TokenResponse, routes } from '../../contract/index.js';
import { DeviceError } from '../../state/devices.js';
import { DeviceProofError, REVOKED_MESSAGE } from '../device-registry.js';
import { ApiError, notFound, unauthorized } from '../api-error.js';
import type { Identity, IdentitySource } from '../../identity/types.js';
import type { AgentDeps } from '../deps.js';
import { apiErrors, bodyErrors } from './responses.js';

export function loginRateKey(ip: string, username: unknown): string {
  return `${ip}|${typeof username === 'string' ? username.toLowerCase() : ''}`;
}

export async function authRoutes(app: FastifyInstance, deps: AgentDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const issue = async (user: Identity, refreshToken: string, device?: string): Promise<TokenResponse> => {
    const access = await deps.tokens.issueAccessToken(user.name, { idp: user.idp, groups: user.groups, ...(device ? { device } : {}) });
    return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn, user: { name: user.name, groups: user.groups } };
  };

  /** The sign-in attempt budget per client address, refused with 429, the sentence and Retry-After. */
  const perAddressLimit = (sentence: string) => ({
    max: deps.loginAttemptsPerMinute ?? 10,
    timeWindow: 60_000,
    errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) =>
      new ApiError(429, 'rate_limited', `${sentence}; try again in ${ctx.after}`, { 'retry-after': String(Math.max(1, Math.ceil(ctx.ttl / 1000))) }),
  });

  /** The enrolled device a sign-in comes from, when it sends its proof; a proof that does not hold is a 401. */
  const deviceOf = async (req: FastifyRequest): Promise<string | undefined> => {
    const header = req.headers[DEVICE_PROOF_HEADER];
    const proof = Array.isArray(header) ? header[0] : header;
    if (!proof) return undefined;
    try {
      return (await deps.devices.verifyProof(proof)).id;
    } catch (err) {
      if (err instanceof DeviceProofError) throw unauthorized(err.message, err.reason);
      throw err;
    }
  };
  /** Members of the configured groups sign in only on an enrolled device. */
  const checkDeviceRequired = (user: Identity, device: string | undefined) => {
    const groups = deps.devicesRequiredForGroups.filter((g) => user.groups.includes(g));
    if (!device && groups.length) throw unauthorized(`As a member of ${groups.join(', ')} you may sign in only on a device your organisation enrolled (a kiosk)`, 'device_required');
  };
  /** A new sign-in: the refresh family remembers the device, so its refreshes end when it is revoked. */
  const signIn = async (req: FastifyRequest, user: Identity): Promise<TokenResponse> => {
    const device = await deviceOf(req);
    checkDeviceRequired(user, device);
    return issue(user, await deps.refreshTokens.issue(user.name, { idp: user.idp, groups: user.groups, ...(device ? { device } : {}) }), device);
  };

  r.post(
    routes.login,
    {
      schema: {
        summary: 'Sign in with a user name and password',
        tags: ['auth'],
        body: LoginRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, ...bodyErrors, ...apiErrors },
      },
      config: {
        rateLimit: {
          max: deps.loginAttemptsPerMinute ?? 10,
          timeWindow: 60_000,
          // preHandler: the body is parsed by then, so the key can include the user name; a
          // guesser cannot lock a colleague out from another address.
          keyGenerator: (req: FastifyRequest) => loginRateKey(req.ip, (req.body as { username?: unknown } | undefined)?.username),
          onExceeded: () => deps.metrics.loginAttempts.inc({ result: 'rate_limited' }),
          errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) =>
            new ApiError(429, 'rate_limited', `Too many sign-in attempts for this user from your address; try again in ${ctx.after}`, {
              'retry-after': String(Math.max(1, Math.ceil(ctx.ttl / 1000))),
            }),
        },
      },
    },
    async (req) => {
      const result = await deps.identity.signIn(req.body.username, req.body.password);
      if (!result.ok) {
        deps.metrics.loginAttempts.inc({ result: 'bad_credentials' });
        throw unauthorized(result.message, result.reason);
      }
      deps.metrics.loginAttempts.inc({ result: 'success' });
      return signIn(req, result.identity);
    },
  );

  r.post(
    routes.oidcLogin,
    {
      schema: {
        summary: "Sign in with the company's OpenID Connect issuer: the ID token from an authorization code flow with PKCE",
        tags: ['auth'],
        body: OidcLoginRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, ...bodyErrors, ...apiErrors },
      },
    },
    async (req) => {
      const result = await deps.identity.signInWithIdToken(req.body.idToken);
      if (!result) throw notFound('This agent has no OpenID Connect issuer configured; sign in with a user name and password');
      if (!result.ok) {
        deps.metrics.loginAttempts.inc({ result: 'bad_credentials' });
        throw unauthorized(result.message, result.reason);
      }
      deps.metrics.loginAttempts.inc({ result: 'success' });
      return signIn(req, result.identity);
    },
  );

  r.post(
    routes.guestLogin,
    {
      schema: {
        summary: 'Sign in as a guest without an account (kiosks), where the agent offers it: a new guest each time, with only the guest templates',
        tags: ['auth'],
        response: { 200: TokenResponse, 404: ErrorBody, 429: ErrorBody, ...apiErrors },
      },
      config: {
        rateLimit: perAddressLimit('Too many guest sign-ins from your address'),
      },
    },
    async (req) => {
      const guest = deps.identity.signInAsGuest();
      if (!guest) throw notFound('This agent does not offer a guest sign-in; sign in with an account');
      deps.metrics.loginAttempts.inc({ result: 'success' });
      return signIn(req, guest);
    },
  );

  r.post(
    routes.refresh,
    {
      schema: {
        summary: 'Exchange a refresh token for new tokens (the old refresh token stops working)',
        tags: ['auth'],
        body: RefreshRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, ...bodyErrors, ...apiErrors },
      },
    },
    async (req) => {
      const outcome = await deps.refreshTokens.rotate(req.body.refreshToken);
      if (!outcome.ok) {
        switch (outcome.problem) {
          case 'reused':
            throw unauthorized('This refresh token was already used once, so it may have been copied; every session of that sign-in is now signed out. Sign in again', 'refresh_reused');
          case 'expired':
            throw unauthorized('The refresh token has expired; sign in again', 'refresh_expired');
          default:
            throw unauthorized('The refresh token is not valid (signed out, or never issued here); sign in again', 'refresh_invalid');
        }
      }
      // Refresh tokens from before providers were recorded are the users file's.
      const signedIn: Identity = { name: outcome.user, idp: (outcome.idp ?? 'users') as IdentitySource, groups: outcome.groups ?? [] };
      const user = await deps.identity.current(signedIn);
      if (!user) {
        await deps.refreshTokens.revoke(outcome.token);
        throw unauthorized(`The account "${outcome.user}" no longer exists on this agent; ask an administrator`, 'unknown_user');
      }
      if (outcome.device && (await deps.devices.isRevoked(outcome.device))) {
        await deps.refreshTokens.revoke(outcome.token);
        throw unauthorized(REVOKED_MESSAGE, 'device_revoked');
      }
      checkDeviceRequired(user, outcome.device);
      return issue(user, outcome.token, outcome.device);
    },
  );

  r.post(
    routes.logout,
    {
      schema: {
        summary: 'Sign out: revoke the refresh token and every token rotated from the same sign-in',
        tags: ['auth'],
        body: RefreshRequest,
        response: { 204: z.null().describe('signed out'), 400: ErrorBody, ...bodyErrors, ...apiErrors },
      },
    },
    async (req, reply) => {
      await deps.refreshTokens.revoke(req.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  r.get(
    routes.jwks,
    {
      schema: {
        summary: "The agent's public token-signing keys (JWK Set): the signing one first, older ones while they still verify",
        tags: ['auth'],
        response: { 200: Jwks, ...apiErrors },
      },
    },
    async (_req, reply) => {
      // Caches may keep it briefly; a rotation is picked up by verifiers within minutes.
      void reply.header('cache-control', 'public, max-age=300');
      return Jwks.parse(deps.keyring.jwks());
    },
  );

  r.post(
    routes.enrollDevice,
    {
      schema: {
        summary: 'Enrol this device (a kiosk) with a one-time code from `porthole-agent devices enroll`, giving the public half of its key',
        tags: ['devices'],
        body: EnrollDeviceRequest,
        response: { 201: EnrolledDevice, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, ...bodyErrors, ...apiErrors },
      },
      config: {
        rateLimit: perAddressLimit('Too many enrolment attempts from your address'),
      },
    },
    async (req, reply) => {
      try {
        const device = await deps.devices.enroll(req.body.code, req.body.publicKey);
        deps.logger.info({ device: device.id, name: device.name }, 'device enrolled');
        return reply.code(201).send(device);
      } catch (err) {
        if (err instanceof DeviceError) throw unauthorized(err.message, err.problem === 'code_expired' ? 'enrolment_code_expired' : 'enrolment_code_invalid');
        throw err;
      }
    },
  );

  r.get(
    routes.providers,
    { schema: { summary: 'What the sign-in screen offers (no sign-in needed)', tags: ['auth'], response: { 200: AuthProviders, ...apiErrors } } },
    async () => AuthProviders.parse(deps.identity.describe()),
  );
}
