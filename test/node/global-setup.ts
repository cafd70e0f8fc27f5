/**
 * One real control plane with a real node (build/node/up.sh: kubelet + containerd in a network namespace,
 * the project's images imported) for the real-node test files of a run.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { repoRoot } from '../support/processes.js';
import type { RealNode } from '../support/real-node.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    podNet: number;
    realNode: RealNode;
  }
}

const run = promisify(execFile);
let cluster: TestCluster | undefined;
let clusterDir = '';

export async function setup(project: TestProject) {
  cluster = await startTestCluster(`porthole-node-${process.pid}`, undefined, { konnectivity: true });
  clusterDir = dirname(cluster.kubeconfig);
  const up = await run('bash', [join(repoRoot, 'build/node/up.sh'), clusterDir], { maxBuffer: 16 << 20, timeout: 30 * 60_000 }).catch(
    (e: { stderr?: string; message: string }) => {
      throw new Error(`build/node/up.sh failed: ${e.message}\n${e.stderr ?? ''}`);
    },
  );
  const name = /^NODE=(.+)$/m.exec(up.stdout)?.[1];
  const netns = /^NETNS=(.+)$/m.exec(up.stdout)?.[1];
  if (!name || !netns) throw new Error(`build/node/up.sh printed no NODE/NETNS:\n${up.stdout}\n${up.stderr}`);
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('podNet', cluster.podNet);
  project.provide('realNode', { name, netns, dir: join(clusterDir, 'real-node') });
}

export async function teardown() {
  if (!cluster) return;
  if (process.env.PORTHOLE_KEEP_CLUSTER) {
    console.error(`porthole: kept cluster ${cluster.name} and its real node: KUBECONFIG=${cluster.kubeconfig}; node logs in ${clusterDir}/real-node/logs`);
    return;
  }
  await run('bash', [join(repoRoot, 'build/node/down.sh'), clusterDir], { timeout: 120_000 });
  await cluster.stop();
}
