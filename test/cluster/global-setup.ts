/** One real control plane for every cluster test file of a run; each test works in its own namespace. */
import type { TestProject } from 'vitest/node';
import { startTestCluster, type TestCluster } from '../support/cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    podNet: number;
  }
}

let cluster: TestCluster | undefined;

export async function setup(project: TestProject) {
  cluster = await startTestCluster(`porthole-test-${process.pid}`);
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('podNet', cluster.podNet);
}

export async function teardown() {
  if (!cluster) return;
  // For a post-mortem: keep the cluster, its logs and what the tests left (docs/cluster.md).
  if (process.env.PORTHOLE_KEEP_CLUSTER) {
    console.error(`porthole: kept cluster ${cluster.name}: KUBECONFIG=${cluster.kubeconfig}; logs beside it in logs/; remove with PORTHOLE_CLUSTER_NAME=${cluster.name} npm run cluster:down`);
    return;
  }
  await cluster.stop();
}
