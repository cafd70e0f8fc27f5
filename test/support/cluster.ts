/**
 * A real control plane for tests: build/cluster/up.sh (etcd, kube-apiserver, controller-manager,
 * scheduler, kwok) under a cluster name of our own, stopped and removed by down.sh afterwards.
 * One cluster serves every file of a run (vitest globalSetup); each test takes its own namespace.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { repoRoot, startCli, type Started } from './processes.js';

const run = promisify(execFile);

export interface TestCluster {
  name: string;
  kubeconfig: string;
  /** second octet of the pod network: pod IPs are 127.<podNet>.<node>.<n> */
  podNet: number;
  stop(): Promise<void>;
}

export function clusterEnv(name: string, podNet: number): NodeJS.ProcessEnv {
  return { ...process.env, PORTHOLE_CLUSTER_NAME: name, PORTHOLE_CLUSTER_POD_NET: String(podNet) };
}

/**
 * Starts (or finds running) the named cluster; resolves once nodes are Ready. `konnectivity`: the API
 * server reaches the cluster through the konnectivity socket a real node's script serves (build/cluster/up.sh).
 */
export async function startTestCluster(name: string, podNet = 16 + (process.pid % 200), opts: { konnectivity?: boolean } = {}): Promise<TestCluster> {
  const env = { ...clusterEnv(name, podNet), ...(opts.konnectivity ? { PORTHOLE_CLUSTER_KONNECTIVITY: '1' } : {}) };
  const up = await run('bash', [join(repoRoot, 'build/cluster/up.sh')], { env, maxBuffer: 16 << 20, timeout: 45 * 60_000 }).catch(
    (e: { stderr?: string; message: string }) => {
      throw new Error(`cluster:up failed: ${e.message}\n${e.stderr ?? ''}`);
    },
  );
  const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(up.stdout)?.[1];
  if (!kubeconfig) throw new Error(`cluster:up printed no KUBECONFIG line:\n${up.stdout}\n${up.stderr}`);
  return {
    name,
    kubeconfig,
    podNet,
    stop: async () => {
      await run('bash', [join(repoRoot, 'build/cluster/down.sh')], { env, timeout: 120_000 });
    },
  };
}

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export const AGENT_CLI = 'cluster-agent/agent/cli.ts';

export interface KubernetesAgentOptions {
  kubeconfig: string;
  namespace: string;
  users: string;
  dataDir: string;
  timeoutMs?: number;
  /** extra `node` flags, e.g. --cpu-prof */
  nodeArgs?: string[];
  /** extra `serve` flags, e.g. --turn URL --turn-secret-name NAME */
  serveArgs?: string[];
  /** run it in this network namespace (the real node's, to reach pod IPs) */
  netns?: string;
}

/** A real agent process on the kubernetes runtime, listening on a free loopback port (match[1] is its URL). */
export function startKubernetesAgent(o: KubernetesAgentOptions): Promise<Started> {
  return startCli(
    AGENT_CLI,
    ['serve', '--runtime', 'kubernetes', '--kubeconfig', o.kubeconfig, '--namespace', o.namespace, '--listen', '127.0.0.1:0', '--users', o.users, '--data-dir', o.dataDir, ...(o.serveArgs ?? [])],
    /^listening on (http:\/\/127\.0\.0\.1:\d+)$/,
    o.timeoutMs ?? 60_000,
    o.nodeArgs ?? [],
    o.netns ? { netns: o.netns } : {},
  );
}
