/**
 * The agent's HTTP server: fastify with zod validation from the shared contract, OpenAPI generated
 * from the same schemas, WebSockets for the streams, per-route rate limiting for sign-in.
 */
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AgentDeps } from './deps.js';
import { installErrorHandling } from './error-handling.js';
import { redactUrl } from './redact-url.js';
import { authRoutes } from './routes/auth-routes.js';
import { probeRoutes } from './routes/probe-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { streamRoutes } from './routes/stream-routes.js';

export async function buildServer(deps: AgentDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Any `url` or `path` a log line carries (ours, fastify's, @fastify/websocket's) loses its tokens.
    loggerInstance: deps.logger.child({}, { serializers: { url: redactUrl, path: redactUrl } }) as FastifyBaseLogger,
    // Our own one-line access log below, with tokens redacted.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    req.log.info({ method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Porthole cluster agent', version: 'v1', description: 'Sign in, list templates, start desktops, open streams.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifyRateLimit, { global: false, hook: 'preHandler' });
  // Before @fastify/websocket's own preClose (hooks run in order): tell viewers why the stream ends,
  // so they reconnect to the next agent, which adopts the still-running desktops.
  app.addHook('preClose', async () => {
    for (const client of app.websocketServer?.clients ?? []) client.close(1001, 'The agent is restarting; reconnect in a moment');
  });
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: 16 * 1024 * 1024,
      // noVNC (and older websockify clients) may offer 'binary'; accept it, else no subprotocol.
      handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
    },
  });

  await app.register(async (scope) => authRoutes(scope, deps));
  await app.register(async (scope) => sessionRoutes(scope, deps));
  await app.register(async (scope) => streamRoutes(scope, deps));
  await app.register(async (scope) => probeRoutes(scope, deps));
  return app;
}
