/**
 * Every failure becomes `{error:{code,message}}` with a sentence a person can act on. Framework
 * errors (bad JSON, schema failures, wrong content type) are translated here, in one place.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { AuthFailure, ConflictReason, ErrorBody, ErrorCode } from '../contract/index.js';
import { RuntimeError } from '../runtime/types.js';
import { ApiError } from './api-error.js';
import { IdentityUnavailableError } from '../identity/types.js';
import { UsersUnavailableError } from '../identity/user-directory.js';

export function errorBody(code: ErrorCode, message: string, reason?: AuthFailure | ConflictReason): ErrorBody {
  return { error: { code, message, ...(reason ? { reason } : {}) } };
}

/** "body.username" style name of the first failing field, and zod's message for it. */
export function describeValidation(context: string | undefined, validation: { instancePath: string; message?: string }[]): string {
  const first = validation[0];
  if (!first) return 'The request does not match the API schema';
  const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const where = [context ?? 'request', field].filter(Boolean).join('.');
  return `Invalid ${where}: ${first.message ?? 'does not match the schema'}`;
}

function translate(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UsersUnavailableError) return new ApiError(503, 'not_ready', err.message);
  if (err instanceof IdentityUnavailableError) return new ApiError(503, 'unavailable', err.message);
  if (err instanceof RuntimeError) {
    const status = { not_found: 404, bad_request: 400, unavailable: 503, not_ready: 503, conflict: 409 }[err.code];
    return new ApiError(status, err.code, err.message);
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    return new ApiError(400, 'bad_request', describeValidation((err as FastifyError).validationContext, err.validation));
  }
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'bad_request', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'bad_request', 'The request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'bad_request', 'Send the request body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'bad_request', 'The request body is too large');
  }
  if (err instanceof SyntaxError && status === 400) return new ApiError(400, 'bad_request', 'The request body is not valid JSON');
  if (status === 429) return new ApiError(429, 'rate_limited', err.message);
  if (typeof status === 'number' && status >= 400 && status < 500 && !isResponseSerializationError(err)) {
    return new ApiError(status, 'bad_request', err.message);
  }
  return new ApiError(500, 'internal', 'The agent hit an unexpected error; the details are in its log');
}

/**
 * fastify's `frameworkErrors`: URLs the router refuses before any route or hook runs (a malformed
 * percent-encoding, a path segment longer than `maxParamLength`).
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  let status = 500;
  let message = 'The agent hit an unexpected error; the details are in its log';
  if (err.code === 'FST_ERR_BAD_URL') {
    status = 400;
    message = 'The URL is not valid: it has a malformed percent-encoding (% must be followed by two hex digits)';
  } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    status = 414;
    message = `A part of the URL path is longer than ${MAX_PARAM_LENGTH} characters; no session id or name is that long`;
  }
  if (status === 500) req.log.error({ err }, 'request failed');
  // No route, so no onResponse hook: the access-log line is written here (the logger redacts url).
  req.log.info({ method: req.method, url: req.url, status }, 'request');
  void reply.code(status).send(errorBody(status === 500 ? 'internal' : 'bad_request', message));
}

/** Longest path parameter (fastify's `maxParamLength`); session ids are at most 63 characters. */
export const MAX_PARAM_LENGTH = 100;

/** `/api/v1/sessions/:id` -> a pattern matching the concrete paths of that route. */
function routePattern(url: string): RegExp {
  const parts = url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('/')}$`);
}

export function installErrorHandling(app: FastifyInstance): void {
  // Which methods each path has, so a wrong method on a real path is 405 (with Allow), not 404.
  const known: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const existing = known.find((k) => k.pattern.source === routePattern(route.url).source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else known.push({ pattern: routePattern(route.url), methods: new Set(methods) });
  });
  // Node's own answer to this (requireHostHeader) is an empty 400; this one says why.
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1 && req.headers.host === undefined) {
      throw new ApiError(400, 'bad_request', 'HTTP/1.1 requests must have a Host header; send the address you reached the agent at');
    }
  });

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const api = translate(err);
    if (api.statusCode >= 500) req.log.error({ err }, 'request failed');
    for (const [k, v] of Object.entries(api.headers)) void reply.header(k, v);
    return reply.code(api.statusCode).send(errorBody(api.code, api.message, api.reason));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = known.filter((k) => k.pattern.test(path)).flatMap((k) => [...k.methods]);
    if (allowed.length > 0 && !allowed.includes(req.method)) {
      const allow = [...new Set(allowed)].sort().join(', ');
      return reply.code(405).header('allow', allow).send(errorBody('bad_request', `${req.method} is not allowed on ${path}; use ${allow}`));
    }
    return reply.code(404).send(errorBody('not_found', `No such API route: ${req.method} ${path}`));
  });
}
