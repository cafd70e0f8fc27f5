/**
 * The informer cache without a cluster: a fake Watch whose re-open fails the way client-node's can
 * (watch() rejects instead of reporting through done) must not leave the cache stale, and the cache
 * says it is unhealthy while its watch keeps failing (fake timers: the rule, not speed).
 */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Cache, CACHE_UNHEALTHY_AFTER_MS } from '../../cluster-agent/runtime/kubernetes/informers.js';
import type { KubeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';

const log = pino({ level: 'silent' });

function fakeWatch() {
  const state = { reject: false, opened: 0, dones: [] as ((err: unknown) => void)[] };
  const watch = {
    watch: async (_path: string, _q: unknown, _cb: unknown, done: (err: unknown) => void) => {
      state.opened++;
      if (state.reject) throw new Error('could not read the ServiceAccount token');
      state.dones.push(done);
      return new AbortController();
    },
  };
  return { clients: { watch } as unknown as KubeClients, state };
}

describe('informer cache', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps restarting a watch whose re-open rejects, reports not-healthy meanwhile, and recovers', async () => {
    const { clients, state } = fakeWatch();
    const list = async () => ({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '1' }, items: [] }) as KubernetesListObject<KubernetesObject>;
    const cache = new Cache<KubernetesObject>('pods', '/api/v1/namespaces/ns/pods', clients, list, log);
    await cache.start(1000);
    expect(state.opened).toBe(1);
    expect(cache.health().ok).toBe(true);

    state.reject = true;
    state.dones[0]!(new Error('connection reset')); // the open watch dies
    await vi.advanceTimersByTimeAsync(CACHE_UNHEALTHY_AFTER_MS);
    const openedWhileFailing = state.opened;
    expect(openedWhileFailing).toBeGreaterThan(2); // re-opened again after the first rejected re-open
    const h = cache.health();
    expect(h.ok).toBe(false);
    expect(h.lastError).toMatch(/ServiceAccount token/);

    state.reject = false;
    await vi.advanceTimersByTimeAsync(30_000); // the longest backoff
    expect(state.opened).toBeGreaterThan(openedWhileFailing);
    expect(cache.health()).toEqual({ ok: true });
    await cache.stop();
  });
});
