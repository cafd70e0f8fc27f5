import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { kubeConfigFrom } from '../support/cluster.js';
import { waitFor } from '../support/processes.js';

describe('test control plane', () => {
  const kc = kubeConfigFrom(inject('kubeconfig'));
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `control-plane-${process.pid}`;

  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('is a real API server with KWOK nodes whose pod network is on loopback', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const nodes = await core.listNode();
    expect(nodes.items.length).toBeGreaterThanOrEqual(2);
    for (const n of nodes.items) {
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.spec?.podCIDR).toMatch(new RegExp(`^127\\.${inject('podNet')}\\.\\d+\\.0/24$`));
    }
  });

  it('binds a new claim to a provisioned volume and runs the pod that mounts it, at a loopback IP', async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: { metadata: { name: 'home' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'with-home' },
        spec: {
          containers: [{ name: 'c', image: 'example.invalid/none', volumeMounts: [{ name: 'home', mountPath: '/home' }] }],
          volumes: [{ name: 'home', persistentVolumeClaim: { claimName: 'home' } }],
        },
      },
    });
    const pod = await waitFor('the pod to run', async () => {
      const p = await core.readNamespacedPod({ namespace, name: 'with-home' });
      return p.status?.phase === 'Running' ? p : undefined;
    }, 20_000);
    expect(pod.status?.podIP).toMatch(new RegExp(`^127\\.${inject('podNet')}\\.`));
    const claim = await core.readNamespacedPersistentVolumeClaim({ namespace, name: 'home' });
    expect(claim.status?.phase).toBe('Bound');
  });
});
