/**
 * The leader's warm-pool reconcile against fake caches and a fake API: trimming deletes only the pod
 * it saw (uid + resourceVersion preconditions), and an expected create that never shows up stops
 * holding the pool below size after the expectation TTL.
 */
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import type { TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildWarmPod } from '../../cluster-agent/kubernetes/session-objects.js';
import type { Caches } from '../../cluster-agent/runtime/kubernetes/informers.js';
import type { KubeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { EXPECTATION_TTL_MS, pruneExpectations, Reconciler } from '../../cluster-agent/runtime/kubernetes/reconciler.js';

const NS = 'ns';

function setup(replicas: number, pods: V1Pod[]) {
  const t: TemplateResource = xfceTemplate(NS);
  t.metadata.uid = 'tuid';
  t.spec.warmPool = { replicas };
  const calls: { verb: string; name?: string; body?: unknown }[] = [];
  const byName = (n: string) => pods.find((p) => p.metadata?.name === n);
  const caches = {
    templates: { get: () => t, list: () => [t] },
    sessions: { get: () => undefined, list: () => [] },
    pods: { list: () => pods, get: byName },
  } as unknown as Caches;
  const core = {
    deleteNamespacedPod: async (a: { name: string; body?: unknown }) => {
      calls.push({ verb: 'delete', name: a.name, body: a.body });
      throw Object.assign(new Error('Precondition failed: ResourceVersion in precondition: 5, in object meta: 6'), { code: 409 });
    },
    createNamespacedPod: async (a: { body: V1Pod }) => {
      calls.push({ verb: 'create', name: a.body.metadata?.name });
      return { ...a.body, metadata: { ...a.body.metadata, uid: `uid-${a.body.metadata?.name}` } };
    },
    createNamespacedSecret: async () => ({}),
  };
  const clock = { now: 1_000_000 };
  const r = new Reconciler({
    clients: { core } as unknown as KubeClients,
    namespace: NS,
    caches,
    log: pino({ level: 'silent' }),
    startTimeoutMs: 60_000,
    identity: 'me',
    now: () => clock.now,
  });
  return { r, calls, clock, t };
}

describe('warm-pool reconcile', () => {
  it('trims with the uid and resourceVersion it saw, and a 409 (claimed meanwhile) is not an error', async () => {
    const t = xfceTemplate(NS);
    t.metadata.uid = 'tuid';
    const pod = buildWarmPod(t, NS, 'warm-xfce-aaa');
    pod.metadata = { ...pod.metadata, uid: 'pod-uid', resourceVersion: '5', creationTimestamp: new Date(0) };
    const { r, calls } = setup(0, [pod]);
    await expect(r.reconcile('template:xfce')).resolves.toBeUndefined();
    expect(calls).toEqual([{ verb: 'delete', name: 'warm-xfce-aaa', body: { preconditions: { uid: 'pod-uid', resourceVersion: '5' } } }]);
  });

  it('an expected create that never appears stops counting after the TTL, so the pool is refilled', async () => {
    const { r, calls, clock } = setup(1, []);
    await r.reconcile('template:xfce');
    expect(calls.filter((c) => c.verb === 'create')).toHaveLength(1);
    clock.now += 5_000;
    await r.reconcile('template:xfce'); // still expected: no second pod
    expect(calls.filter((c) => c.verb === 'create')).toHaveLength(1);
    clock.now += EXPECTATION_TTL_MS;
    await r.reconcile('template:xfce'); // its event never came (or it vanished unseen): make another
    expect(calls.filter((c) => c.verb === 'create')).toHaveLength(2);
  });

  it('pruneExpectations keeps only unseen entries younger than the TTL', () => {
    const m = new Map([['a', 0], ['b', 50_000], ['c', 59_000]]);
    expect([...pruneExpectations(m, (n) => n === 'c', 60_000).keys()]).toEqual(['b']);
  });
});
