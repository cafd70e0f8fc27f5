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
import { frameworkErrorHandler, installErrorHandling, MAX_PARAM_LENGTH } from './error-handling.js';
import { answerUnroutable, httpLimits, makeClientErrorHandler, nodeServerOptions } from './http-limits.js';
import { notReady } from './api-error.js';
import { redactUrl } from './redact-url.js';
import { authRoutes } from './routes/auth-routes.js';
import { probeRoutes } from './routes/probe-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { streamRoutes } from './routes/stream-routes.js';

export async function buildServer(deps: AgentDeps): Promise<FastifyInstance> {
  const limits = deps.httpLimits ?? httpLimits();
  // Any `url` or `path` a log line carries (ours, fastify's, @fastify/websocket's) loses its tokens.
  const logger = deps.logger.child({}, { serializers: { url: redactUrl, path: redactUrl } });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own one-line access log below, with tokens redacted.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // A slow client cannot hold a socket for ever (fastify's requestTimeout default is 0 = never).
    http: nodeServerOptions(limits),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What Node's parser and fastify's router refuse is answered in the contract's shape too.
    clientErrorHandler: makeClientErrorHandler(limits, logger),
    frameworkErrors: frameworkErrorHandler,
    // fastify's own 503 while closing is not in the contract's shape; the hook below answers instead.
    return503OnClosing: false,
  });
  app.server.maxConnections = limits.maxConnections;
  answerUnroutable(app.server, logger);
  let lastDropLogged = 0;
  app.server.on('drop', () => {
    // Once per 10 s at most: a flood of refused connections must not also flood the log.
    if (Date.now() - lastDropLogged < 10_000) return;
    lastDropLogged = Date.now();
    logger.warn({ maxConnections: limits.maxConnections }, `refusing connections: ${limits.maxConnections} are open already`);
  });
  // While closing, API requests still arriving on open connections get a 503 a client can act on;
  // the probes keep answering (/readyz says not_ready by then).
  let closing = false;
  app.addHook('onRequest', async (req, reply) => {
    if (!closing || !req.url.startsWith('/api/')) return;
    void reply.header('connection', 'close');
    throw notReady('The agent is shutting down; try again in a moment');
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
    closing = true;
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
