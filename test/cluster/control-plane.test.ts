import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { kubeConfigFrom } from '../support/cluster.js';

describe('test control plane', () => {
  const kc = kubeConfigFrom(inject('kubeconfig'));

  it('is a real API server with KWOK nodes whose pod network is on loopback', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const nodes = await kc.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items.length).toBeGreaterThanOrEqual(2);
    for (const n of nodes.items) {
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.spec?.podCIDR).toMatch(new RegExp(`^127\\.${inject('podNet')}\\.\\d+\\.0/24$`));
    }
  });
});
