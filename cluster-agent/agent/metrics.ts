/**
 * Prometheus metrics. One registry per agent (not prom-client's global) so several agents in one
 * test process do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SessionPhase } from '../contract/index.js';
import type { Runtime } from '../runtime/types.js';

export interface AgentMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  loginAttempts: Counter<'result'>;
  gatewayBytes: Counter<'direction'>;
  openStreams: Gauge<'protocol'>;
  sessionStartSeconds: Histogram<'template'>;
}

export function createMetrics(runtime: Runtime, opts: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'porthole_agent_' });
  const httpDuration = new Histogram({
    name: 'porthole_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const loginAttempts = new Counter({
    name: 'porthole_login_attempts_total',
    help: 'Login attempts by result (success, bad_credentials, rate_limited)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const gatewayBytes = new Counter({
    name: 'porthole_gateway_bytes_total',
    help: 'Bytes relayed by the stream gateway; to_client = desktop to viewer, to_desktop = viewer to desktop',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const openStreams = new Gauge({
    name: 'porthole_open_streams',
    help: 'Stream WebSockets currently open',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });
  const sessionStartSeconds = new Histogram({
    name: 'porthole_session_start_duration_seconds',
    help: 'Seconds from session creation to Running',
    labelNames: ['template'] as const,
    buckets: [0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120],
    registers: [registry],
  });
  for (const metric of runtime.metrics?.() ?? []) registry.registerMetric(metric);
  // Asked of the runtime at scrape time so it is never stale.
  new Gauge({
    name: 'porthole_sessions',
    help: 'Sessions by phase',
    labelNames: ['phase'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = Object.fromEntries(SessionPhase.options.map((p) => [p, 0])) as Record<string, number>;
      try {
        for (const s of await runtime.list()) counts[s.phase] = (counts[s.phase] ?? 0) + 1;
      } catch {
        return; // runtime not initialised: report nothing rather than zeros that look true
      }
      for (const [phase, n] of Object.entries(counts)) this.set({ phase }, n);
    },
  });

  // Observe each start once, from the runtime's own events (so starts that finish after the HTTP
  // request returned count). Only sessions seen before Running: adopted desktops are not new starts.
  const starting = new Set<string>();
  runtime.on('session', (s: { id: string; template: string; phase: string; createdAt: string; startedAt?: string }) => {
    if (s.phase === 'Pending' || s.phase === 'Starting') {
      starting.add(s.id);
      return;
    }
    if (!starting.delete(s.id) || s.phase !== 'Running' || !s.startedAt) return;
    const secs = (Date.parse(s.startedAt) - Date.parse(s.createdAt)) / 1000;
    if (Number.isFinite(secs) && secs >= 0) sessionStartSeconds.observe({ template: s.template }, secs);
  });

  return { registry, httpDuration, loginAttempts, gatewayBytes, openStreams, sessionStartSeconds };
}
