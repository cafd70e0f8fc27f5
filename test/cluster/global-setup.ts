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
  await cluster?.stop();
}
