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
    { schema: { summary: 'The runtime is initialised and the users file is usable: requests can be served', tags: ['probes'], response: { 200: Health, 503: Health, ...transportErrors } } },
    async (_req, reply) => {
      const runtime = !deps.isReady() ? { ok: false, message: 'initialising' } : (deps.runtime.healthy?.() ?? { ok: true, message: 'ready' });
      // Nobody can sign in while the users file is unusable: not ready either, and say why.
      const users = await deps.identity.health();
      const checks = { runtime: `${deps.runtime.kind}: ${runtime.ok ? 'ready' : runtime.message}`, ...(users.ok ? {} : { users: users.message }) };
      if (!runtime.ok || !users.ok) return reply.code(503).send({ status: 'not_ready', checks });
      return { status: 'ok' as const, checks };
    },
  );
  r.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['probes'] } }, async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  r.get(routes.openapi, { schema: { hide: true } }, async () => app.swagger());
}
