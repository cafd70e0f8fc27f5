/**
 * A session's start on a real kubelet node (build/node/up.sh: containerd + runc, the project's desktop
 * image), as a person sees it: POST /sessions -> Running -> the first framebuffer update through the
 * agent's gateway -> XFCE drawn. Three ways, in one run on one machine:
 *   - cold: a new pod for a returning user (the home volume exists; the first run, which also makes and
 *     binds the home volume, is reported on its own);
 *   - warm: a template with a warm pool of one, the pool refilled (and its pod Ready) before each run;
 *   - local: the embedded runtime's sandboxed terminal desktop on this machine, for scale (a lighter
 *     desktop than XFCE: its first frame is comparable, "drawn" is not).
 * The agent runs in the node's network namespace and is reached through a relay, as in test/node.
 * BENCH_ITERATIONS (5).
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { xfceTemplate } from '../cluster-agent/kubernetes/default-templates.js';
import { GROUP, LABELS, TEMPLATE_PLURAL, VERSION, type TemplateResource } from '../cluster-agent/kubernetes/resources.js';
import { login, stopAllSessions } from '../test/support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent, startTestCluster } from '../test/support/cluster.js';
import { createNamespace, ensureCrds } from '../test/support/kube.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir, waitFor } from '../test/support/processes.js';
import { onTheRealNode, relayInto } from '../test/support/real-node.js';
import { spread, timeStart, type StartTiming } from './session-timing.js';
import { percentile, printResult, printTable, round } from './stats.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 5);
const PASSWORD = 'bench-password';
/** XFCE's panel and wallpaper: many colours; Xvnc's empty screen has one */
const DRAWN = 16;
const run = promisify(execFile);

function pinned(name: string, warm: number, namespace: string): TemplateResource {
  const t = onTheRealNode(xfceTemplate(namespace), { warmPool: { replicas: warm } });
  t.metadata.name = name;
  return t;
}

type Row = { kind: string; run: number } & Omit<StartTiming, 'id' | 'colours'>;

async function main(): Promise<void> {
  const tCluster = performance.now();
  const cluster = await startTestCluster(`porthole-bench-node-${process.pid}`);
  const clusterDir = dirname(cluster.kubeconfig);
  const data = tempDir('bench-real-node');
  const rows: Row[] = [];
  let nodeReadyMs = 0;
  let firstEver: StartTiming | undefined;
  try {
    const up = await run('bash', [join(repoRoot, 'build/node/up.sh'), clusterDir], { maxBuffer: 16 << 20, timeout: 30 * 60_000 });
    nodeReadyMs = round(performance.now() - tCluster);
    const netns = /^NETNS=(.+)$/m.exec(up.stdout)![1]!;
    const kc = kubeConfigFrom(cluster.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await createNamespace(kc, 'bench-node', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    await ensureCrds(kc);
    for (const t of [pinned('xfce', 0, ns), pinned('xfce-warm', 1, ns)]) {
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: t });
    }
    const users = join(data.path, 'users.yaml');
    for (const u of ['cold', ...Array.from({ length: ITERATIONS }, (_, i) => `warm${i}`)]) await runCli('cluster-agent/agent/cli.ts', ['users', 'add', u, '--file', users, '--password-stdin'], PASSWORD);
    const agent = await startKubernetesAgent({ kubeconfig: cluster.kubeconfig, namespace: ns, users, dataDir: join(data.path, 'agent'), netns });
    const relay = await relayInto(netns, Number(new URL(agent.match[1]!).port));
    const url = relay.url;
    const podsGone = (selector: string) => waitFor('the pods gone', async () => ((await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.length === 0 ? true : undefined), 60_000, 200);
    const warmReady = () =>
      waitFor('a Ready warm pod', async () => {
        const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.warm}=true` });
        return pods.items.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) || undefined;
      }, 120_000, 200);
    try {
      // Cold: the first start also makes the home volume; then the same person again, a new pod each time.
      const cold = await login(url, 'cold', PASSWORD);
      for (let i = 0; i <= ITERATIONS; i++) {
        const t = await timeStart(url, cold, 'xfce', { drawnColours: DRAWN });
        if (i === 0) firstEver = t;
        else rows.push({ kind: 'cold', run: i, running_ms: t.running_ms, first_frame_ms: t.first_frame_ms, ...(t.drawn_ms !== undefined ? { drawn_ms: t.drawn_ms } : {}) });
        await stopAllSessions(url, 'cold', PASSWORD);
        await podsGone(`${LABELS.template}=xfce`);
        process.stderr.write(`cold ${i}/${ITERATIONS}: first frame ${t.first_frame_ms} ms, drawn ${t.drawn_ms} ms\n`);
      }
      // Warm: a new person each run claims the pool's pod; the pool is refilled before the next run.
      for (let i = 0; i < ITERATIONS; i++) {
        await warmReady();
        await new Promise((r) => setTimeout(r, 3000)); // XFCE in the warm pod settles, as it would while waiting
        const token = await login(url, `warm${i}`, PASSWORD);
        const t = await timeStart(url, token, 'xfce-warm', { drawnColours: DRAWN });
        rows.push({ kind: 'warm', run: i + 1, running_ms: t.running_ms, first_frame_ms: t.first_frame_ms, ...(t.drawn_ms !== undefined ? { drawn_ms: t.drawn_ms } : {}) });
        await stopAllSessions(url, `warm${i}`, PASSWORD);
        process.stderr.write(`warm ${i + 1}/${ITERATIONS}: first frame ${t.first_frame_ms} ms\n`);
      }
    } finally {
      await relay.close();
      await stopProcess(agent.child);
    }

    // The local runtime, same machine, same run.
    const localUsers = join(data.path, 'local-users.yaml');
    await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'local', '--file', localUsers, '--password-stdin'], PASSWORD);
    const local = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', localUsers, '--data-dir', join(data.path, 'local')], /^listening on (\S+)/);
    try {
      const token = await login(local.match[1]!, 'local', PASSWORD);
      for (let i = 0; i < ITERATIONS; i++) {
        const t = await timeStart(local.match[1]!, token, 'terminal');
        rows.push({ kind: 'local terminal', run: i + 1, running_ms: t.running_ms, first_frame_ms: t.first_frame_ms });
        await stopAllSessions(local.match[1]!, 'local', PASSWORD);
      }
    } finally {
      await stopProcess(local.child);
    }
  } finally {
    await run('bash', [join(repoRoot, 'build/node/down.sh'), clusterDir], { timeout: 120_000 }).catch((e: Error) => console.error(`node down: ${e.message}`));
    await cluster.stop();
    data.remove();
  }

  printTable(`Session start on a real kubelet node (XFCE pod) and locally (terminal), ${ITERATIONS} runs each (ms)`, rows.map((r) => ({ drawn_ms: '-', ...r })));
  const of = (kind: string) => {
    const mine = rows.filter((r) => r.kind === kind);
    const drawn = mine.flatMap((r) => (r.drawn_ms !== undefined ? [r.drawn_ms] : []));
    return {
      running_ms: spread(mine.map((r) => r.running_ms), percentile),
      first_frame_ms: spread(mine.map((r) => r.first_frame_ms), percentile),
      ...(drawn.length ? { drawn_ms: spread(drawn, percentile) } : {}),
    };
  };
  const cold = of('cold');
  const warm = of('warm');
  const local = of('local terminal');
  printTable('Summary, p50 (ms)', [
    { kind: 'real node, cold pod', running: cold.running_ms.p50, first_frame: cold.first_frame_ms.p50, drawn: cold.drawn_ms?.p50 ?? '-' },
    { kind: 'real node, warm pool', running: warm.running_ms.p50, first_frame: warm.first_frame_ms.p50, drawn: warm.drawn_ms?.p50 ?? '-' },
    { kind: 'real node, first start (home made)', running: firstEver?.running_ms ?? '-', first_frame: firstEver?.first_frame_ms ?? '-', drawn: firstEver?.drawn_ms ?? '-' },
    { kind: 'local sandbox, terminal', running: local.running_ms.p50, first_frame: local.first_frame_ms.p50, drawn: '-' },
  ]);
  printResult({
    benchmark: 'real-node-start',
    runs: ITERATIONS,
    node_ready_ms: nodeReadyMs,
    cold,
    warm,
    first_start: firstEver ? { running_ms: firstEver.running_ms, first_frame_ms: firstEver.first_frame_ms, drawn_ms: firstEver.drawn_ms } : undefined,
    local_terminal: local,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
