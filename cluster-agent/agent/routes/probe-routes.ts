/** Liveness, readiness, Prometheus metrics and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Health, routes } from '../../contract/index.js';
import type { AgentDeps } from '../deps.js';
import { transportErrors } from './responses.js';

export async function probeRoutes(app: FastifyInstance, deps: AgentDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/healthz', { schema: { summary: 'The process is up', tags: ['probes'], response: { 200: Health, ...transportErrors } } }, async () => ({ status: 'ok' as const }));
  r.get(
    '/readyz',
    { schema: { summary: 'The runtime is initialised and requests can be served', tags: ['probes'], response: { 200: Health, 503: Health, ...transportErrors } } },
    async (_req, reply) => {
      if (!deps.isReady()) return reply.code(503).send({ status: 'not_ready', checks: { runtime: `${deps.runtime.kind}: initialising` } });
      const health = deps.runtime.healthy?.();
      if (health && !health.ok) return reply.code(503).send({ status: 'not_ready', checks: { runtime: `${deps.runtime.kind}: ${health.message}` } });
      return { status: 'ok' as const, checks: { runtime: `${deps.runtime.kind}: ready` } };
    },
  );
  r.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['probes'] } }, async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  r.get(routes.openapi, { schema: { hide: true } }, async () => app.swagger());
}
