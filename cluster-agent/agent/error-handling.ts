/**
 * Every failure becomes `{error:{code,message}}` with a sentence a person can act on. Framework
 * errors (bad JSON, schema failures, wrong content type) are translated here, in one place.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { ErrorBody, ErrorCode } from '../contract/index.js';
import { RuntimeError } from '../runtime/types.js';
import { ApiError } from './api-error.js';

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
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

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const api = translate(err);
    if (api.statusCode >= 500) req.log.error({ err }, 'request failed');
    for (const [k, v] of Object.entries(api.headers)) void reply.header(k, v);
    return reply.code(api.statusCode).send(errorBody(api.code, api.message));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    return reply.code(404).send(errorBody('not_found', `No such API route: ${req.method} ${path}`));
  });
}
