/**
 * Many sessions on a real control plane with KWOK nodes: `BENCH_SESSIONS` (default 1000) desktops
 * requested through the real agent's HTTP API (`serve --runtime kubernetes`), `BENCH_CONCURRENCY`
 * (default 50) requests in flight, each session timed from its POST to Running as seen by a watch on
 * the Session CRs. Reports total wall time, p50/p99/max create -> Running, the API requests the agent
 * sent per session (its porthole_kubernetes_requests_total, read before and after), the agent's peak
 * RSS, and the CPU each control-plane component used. In the same run a bare client loop creates the
 * same objects per session (Session CR, VNC Secret, home PVC per user, Pod from the same builders) with
 * the same concurrency and waits for the pods to be Running: its total time is the ratio to beat.
 *
 * BENCH_AGENT_CPU_PROF=DIR makes the agent write a V8 CPU profile into DIR when it exits.
 *
 * Sessions are spread over users x templates (10 Templates, ceil(N/10) users): a user has one session
 * per template, so every request creates.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { routes } from '../cluster-agent/contract/index.js';
import { writeFileAtomic } from '../cluster-agent/state/atomic-write.js';
import { hashPassword } from '../cluster-agent/identity/password-hash.js';
import { formatUsersFile } from '../cluster-agent/identity/users-file.js';
import { xfceTemplate } from '../cluster-agent/kubernetes/default-templates.js';
import { LEADER_LEASE_NAME } from '../cluster-agent/kubernetes/install-manifests.js';
import { GROUP, SESSION_PLURAL, sessionName, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../cluster-agent/kubernetes/resources.js';
import { buildHomeClaim, buildSession, buildSessionPod, buildVncSecret } from '../cluster-agent/kubernetes/session-objects.js';
import { REQUESTS_METRIC } from '../cluster-agent/runtime/kubernetes/kube-client.js';
import { login } from '../test/support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent, startTestCluster, type TestCluster } from '../test/support/cluster.js';
import { createNamespace, ensureCrds } from '../test/support/kube.js';
import { stopProcess, tempDir, waitFor, type Started } from '../test/support/processes.js';
import { percentile, printResult, printTable, round } from './stats.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const TEMPLATES = 10;
const USERS = Math.ceil(SESSIONS / TEMPLATES);
/** How long a phase may take before the sessions not yet Running are reported as failed. */
const PHASE_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 900) * 1000;
const PASSWORD = 'bench-password';
const COMPONENTS = ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok-controller'] as const;

const templateName = (i: number) => `t${i % TEMPLATES}`;
const userName = (i: number) => `u${Math.floor(i / TEMPLATES)}`;

interface PhaseResult {
  /** create -> Running per session, ms */
  latencies: number[];
  totalMs: number;
  failures: { name: string; why: string }[];
  /** API requests sent per session */
  requestsPerSession: number;
  cpuSeconds: Record<string, number>;
  /** where the time goes, per session (ms): start -> pod created -> scheduled -> pod Ready [-> Session Running] */
  stages: Record<string, number[]>;
}

// ---- small helpers ---------------------------------------------------------------------------

/** Runs `work(i)` for i in [0, n) with at most `limit` running at once. */
async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The control plane's processes, from the pid files kwokctl keeps next to the kubeconfig. */
function componentPids(cluster: TestCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of COMPONENTS) {
    try {
      out[c] = Number(readFileSync(join(dirname(cluster.kubeconfig), 'pids', `${c}.pid`), 'utf8').trim());
    } catch {
      // not every kwokctl layout has every pid file; that component is just not reported
    }
  }
  return out;
}

function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([c, pid]) => [c, cpuSeconds(pid)]));
}

function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, round(after[k]! - (before[k] ?? 0), 1)]));
}

/** porthole_kubernetes_requests_total from the agent's /metrics, by "verb resource code". */
async function scrapeRequests(agentUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(new URL('/metrics', agentUrl))).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${REQUESTS_METRIC}{`)) continue;
    const m = /verb="([^"]*)",resource="([^"]*)",code="([^"]*)"\}\s+(\S+)/.exec(line);
    if (m) out.set(`${m[1]} ${m[2]} ${m[3]}`, Number(m[4]));
  }
  return out;
}

/**
 * A watch (list, then watch from its resourceVersion; restarted after errors) calling `seen` for
 * every object added or changed. For timing only: the bench's own view of the cluster.
 */
async function watchAll<T extends KubernetesObject>(kc: KubeConfig, path: string, list: () => Promise<KubernetesListObject<T>>, seen: (obj: T) => void): Promise<() => Promise<void>> {
  const lw = new ListWatch<T>(path, new Watch(kc), list, false);
  let stopped = false;
  lw.on('add', seen);
  lw.on('update', seen);
  lw.on('error', () => {
    if (!stopped) setTimeout(() => void lw.start().catch(() => undefined), 100);
  });
  await lw.start();
  return async () => {
    stopped = true;
    await lw.stop();
  };
}

/** Time from each session's start to Running; the report of those that did not get there. */
class Stopwatch {
  readonly started = new Map<string, number>();
  readonly running = new Map<string, number>();
  readonly failed = new Map<string, string>();
  readonly last = new Map<string, string>();
  private done?: () => void;
  readonly allDone = new Promise<void>((ok) => (this.done = ok));

  constructor(private readonly expected: number) {}

  start(name: string): void {
    this.started.set(name, performance.now());
  }

  phase(name: string, phase: string | undefined, why: string): void {
    if (phase) this.last.set(name, `${phase}${why ? `: ${why}` : ''}`);
    if (this.running.has(name) || this.failed.has(name)) return;
    if (phase === 'Running') this.running.set(name, performance.now());
    else if (phase === 'Failed') this.failed.set(name, why);
    else return;
    if (this.running.size + this.failed.size >= this.expected) this.done?.();
  }

  fail(name: string, why: string): void {
    if (this.running.has(name) || this.failed.has(name)) return;
    this.failed.set(name, why);
    if (this.running.size + this.failed.size >= this.expected) this.done?.();
  }

  async wait(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.allDone, new Promise<void>((ok) => (timer = setTimeout(ok, timeoutMs)))]);
    clearTimeout(timer);
  }

  result(names: string[]): Pick<PhaseResult, 'latencies' | 'totalMs' | 'failures'> {
    const latencies: number[] = [];
    const failures: { name: string; why: string }[] = [];
    for (const n of names) {
      const t0 = this.started.get(n);
      const t1 = this.running.get(n);
      if (t0 !== undefined && t1 !== undefined) latencies.push(t1 - t0);
      else failures.push({ name: n, why: this.failed.get(n) ?? `not Running after ${PHASE_TIMEOUT_MS / 1000} s (last seen: ${this.last.get(n) ?? 'nothing'})` });
    }
    const first = Math.min(...this.started.values());
    const lastRunning = Math.max(...this.running.values());
    return { latencies, totalMs: this.running.size ? lastRunning - first : NaN, failures };
  }
}

/** When the bench's pod watch first saw each session's pod created, bound to a node, and Ready. */
class PodTimes {
  readonly created = new Map<string, number>();
  readonly scheduled = new Map<string, number>();
  readonly ready = new Map<string, number>();

  seen(p: V1Pod): void {
    const name = p.metadata!.name!;
    const now = performance.now();
    if (!this.created.has(name)) this.created.set(name, now);
    if (p.spec?.nodeName && !this.scheduled.has(name)) this.scheduled.set(name, now);
    if (podReady(p) && !this.ready.has(name)) this.ready.set(name, now);
  }

  stages(clock: Stopwatch, names: string[], withSession: boolean): Record<string, number[]> {
    const gaps: Record<string, number[]> = { 'start -> pod created': [], 'pod created -> scheduled': [], 'scheduled -> pod Ready': [] };
    if (withSession) gaps['pod Ready -> Session Running'] = [];
    const gap = (key: string, a: number | undefined, b: number | undefined) => {
      if (a !== undefined && b !== undefined) gaps[key]!.push(b - a);
    };
    for (const n of names) {
      gap('start -> pod created', clock.started.get(n), this.created.get(n));
      gap('pod created -> scheduled', this.created.get(n), this.scheduled.get(n));
      gap('scheduled -> pod Ready', this.scheduled.get(n), this.ready.get(n));
      if (withSession) gap('pod Ready -> Session Running', this.ready.get(n), clock.running.get(n));
    }
    return gaps;
  }
}

/** What the agent calls Running, for the bare loop: the pod Running and Ready, with an IP. */
const podReady = (p: V1Pod) => p.status?.phase === 'Running' && !!p.status.podIP && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

const listPods = (core: CoreV1Api, namespace: string) => async () => (await core.listNamespacedPod({ namespace })) as unknown as KubernetesListObject<V1Pod>;

// ---- set-up -----------------------------------------------------------------------------------

function benchTemplate(ns: string, name: string): TemplateResource {
  const t = xfceTemplate(ns);
  t.metadata.name = name;
  // KWOK nodes fit anything; tiny requests so 1000 pods fit 2 nodes of 256 cpu / 1000 pods.
  t.spec = { ...t.spec, displayName: `Bench ${name}`, resources: { requests: { cpu: '10m', memory: '16Mi' } }, idleTimeoutSeconds: 0 };
  return t;
}

async function createTemplates(custom: CustomObjectsApi, ns: string): Promise<TemplateResource[]> {
  const out: TemplateResource[] = [];
  for (let i = 0; i < TEMPLATES; i++) {
    out.push((await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: benchTemplate(ns, templateName(i)) })) as TemplateResource);
  }
  return out;
}

/**
 * The users file, written in-process with the agent's own modules (one `users add` per user would be
 * one slow scrypt and one process each). A cheaper scrypt cost than the default (still a valid hash the
 * agent verifies): logins are set-up here, not what is measured.
 */
async function writeUsersFile(path: string): Promise<void> {
  const hash = await hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 });
  const users = Array.from({ length: USERS }, (_, i) => ({ name: userName(i * TEMPLATES), passwordHash: hash, groups: [] }));
  await writeFileAtomic(path, formatUsersFile(users), 0o600);
}

// ---- the agent --------------------------------------------------------------------------------

async function agentPhase(kc: KubeConfig, cluster: TestCluster, pids: Record<string, number>, dir: string, cleanup: (fn: () => Promise<void>) => void): Promise<PhaseResult & { ns: string; peakRssMb: number; idleRssMb: number; agentCpuSeconds: number; requests: Record<string, number> }> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ns = await createNamespace(kc, 'bench-agent');
  await createTemplates(custom, ns);
  const usersFile = join(dir, 'users.yaml');
  await writeUsersFile(usersFile);
  // BENCH_AGENT_CPU_PROF=DIR: the agent writes a V8 CPU profile there when it exits (for finding its hot spots).
  const profDir = process.env.BENCH_AGENT_CPU_PROF;
  const agent: Started = await startKubernetesAgent({
    kubeconfig: cluster.kubeconfig,
    namespace: ns,
    users: usersFile,
    dataDir: join(dir, 'data'),
    nodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  });
  cleanup(() => stopProcess(agent.child));
  const url = agent.match[1]!;
  const pid = agent.child.pid!;

  const tokens = new Map<string, string>();
  await pool(USERS, 10, async (u) => {
    const user = userName(u * TEMPLATES);
    tokens.set(user, await login(url, user, PASSWORD));
  });
  // The agent has listed the (empty) namespace ("listening" comes after that) and holds the Lease
  // before the clock starts.
  const coordination = kc.makeApiClient(CoordinationV1Api);
  await waitFor('the agent to hold the Lease', async () => (await coordination.readNamespacedLease({ name: LEADER_LEASE_NAME, namespace: ns })).spec?.holderIdentity?.endsWith(`-${pid}`), 60_000);

  const clock = new Stopwatch(SESSIONS);
  const stopWatch = await watchAll<SessionResource & KubernetesObject>(
    kc,
    `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${SESSION_PLURAL}`,
    async () => (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: SESSION_PLURAL })) as KubernetesListObject<SessionResource & KubernetesObject>,
    (s) => clock.phase(s.metadata.name!, s.status?.phase, [s.status?.reason, s.status?.message].filter(Boolean).join(': ')),
  );
  const podTimes = new PodTimes();
  const stopPodWatch = await watchAll<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, listPods(kc.makeApiClient(CoreV1Api), ns), (p) => podTimes.seen(p));
  const idleRssMb = procStatusKb(pid, 'VmRSS') / 1024;
  const reqBefore = await scrapeRequests(url);
  const cpuBefore = cpuSnapshot(pids);
  const agentCpuBefore = cpuSeconds(pid);

  const names = Array.from({ length: SESSIONS }, (_, i) => sessionName(userName(i), templateName(i)));
  await pool(SESSIONS, CONCURRENCY, async (i) => {
    const name = names[i]!;
    clock.start(name);
    try {
      const res = await fetch(new URL(routes.sessions, url), {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.get(userName(i))}`, 'content-type': 'application/json' },
        body: JSON.stringify({ template: templateName(i) }),
      });
      if (res.status !== 202) clock.fail(name, `POST /sessions answered ${res.status}: ${await res.text()}`);
      else await res.arrayBuffer();
    } catch (err) {
      clock.fail(name, `POST /sessions failed: ${String(err)}`);
    }
  });
  await clock.wait(PHASE_TIMEOUT_MS);
  const cpu = cpuDelta(cpuBefore, cpuSnapshot(pids));
  const agentCpuSeconds = round(cpuSeconds(pid) - agentCpuBefore, 1);
  // The Running status patch is followed by its Event: let the reconciler finish before counting.
  await new Promise((r) => setTimeout(r, 2000));
  const reqAfter = await scrapeRequests(url);
  const requests: Record<string, number> = {};
  for (const [k, v] of reqAfter) if (v - (reqBefore.get(k) ?? 0) > 0) requests[k] = v - (reqBefore.get(k) ?? 0);
  const peakRssMb = procStatusKb(pid, 'VmHWM') / 1024;
  await stopWatch();
  await stopPodWatch();
  await stopProcess(agent.child);
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  return { ...clock.result(names), stages: podTimes.stages(clock, names, true), ns, requestsPerSession: total / SESSIONS, cpuSeconds: cpu, peakRssMb, idleRssMb, agentCpuSeconds, requests };
}

// ---- the bare client loop ---------------------------------------------------------------------

async function barePhase(kc: KubeConfig, pids: Record<string, number>): Promise<PhaseResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ns = await createNamespace(kc, 'bench-bare');
  // Templates exist as objects (for parity) and feed the pod builder, as in the agent.
  const templates = await createTemplates(custom, ns);
  const clock = new Stopwatch(SESSIONS);
  const podTimes = new PodTimes();
  const stopWatch = await watchAll<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, listPods(core, ns), (p) => {
    podTimes.seen(p);
    clock.phase(p.metadata!.name!, podReady(p) ? 'Running' : p.status?.phase === 'Failed' ? 'Failed' : p.status?.phase, p.status?.message ?? '');
  });
  const cpuBefore = cpuSnapshot(pids);
  let creates = 0;
  const homes = new Map<string, Promise<unknown>>();
  const names = Array.from({ length: SESSIONS }, (_, i) => sessionName(userName(i), templateName(i)));
  await pool(SESSIONS, CONCURRENCY, async (i) => {
    const name = names[i]!;
    const user = userName(i);
    clock.start(name);
    try {
      const session = (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: SESSION_PLURAL, body: buildSession(name, ns, user, templateName(i)) })) as SessionResource;
      await core.createNamespacedSecret({ namespace: ns, body: buildVncSecret(session, ns, 'bench-vnc-pw', "bench-streamer-secret") });
      let home = homes.get(user);
      if (!home) {
        home = core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: buildHomeClaim(user, ns) });
        homes.set(user, home);
        creates++;
      }
      await home;
      await core.createNamespacedPod({ namespace: ns, body: buildSessionPod({ session, template: templates[i % TEMPLATES]!, namespace: ns }) });
      creates += 3;
    } catch (err) {
      clock.fail(name, `create failed: ${String(err)}`);
    }
  });
  await clock.wait(PHASE_TIMEOUT_MS);
  const cpu = cpuDelta(cpuBefore, cpuSnapshot(pids));
  await stopWatch();
  // + the pod list and watch the loop used to see Running
  return { ...clock.result(names), stages: podTimes.stages(clock, names, false), requestsPerSession: (creates + 2) / SESSIONS, cpuSeconds: cpu };
}

/** Deletes the namespace and waits until it and the volumes its claims had are gone. */
async function deleteNamespaceAndWait(kc: KubeConfig, ns: string): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const t0 = performance.now();
  await core.deleteNamespace({ name: ns });
  await waitFor(`namespace ${ns} to be deleted`, async () => core.readNamespace({ name: ns }).then(() => undefined, (e: { code?: number }) => e.code === 404 || undefined), 600_000, 1000);
  await waitFor(`the volumes of ${ns} to be deleted`, async () => !(await core.listPersistentVolume()).items.some((pv) => pv.spec?.claimRef?.namespace === ns) || undefined, 600_000, 1000);
  return performance.now() - t0;
}

// ---- main -------------------------------------------------------------------------------------

function summary(r: PhaseResult) {
  return {
    total_s: round(r.totalMs / 1000, 2),
    p50_ms: round(percentile(r.latencies, 50)),
    p99_ms: round(percentile(r.latencies, 99)),
    max_ms: round(Math.max(...r.latencies)),
    failed: r.failures.length,
    requests_per_session: round(r.requestsPerSession, 2),
  };
}

const p50s = (stages: Record<string, number[]>) => Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(percentile(v, 50))]));

async function main(): Promise<number> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = (fn: () => Promise<void>) => cleanups.unshift(fn);
  const runCleanups = async () => {
    for (const fn of cleanups.splice(0)) await fn().catch((err: unknown) => console.error('clean-up:', err));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`${sig}: stopping the agent and the cluster`);
      void runCleanups().then(() => process.exit(130));
    });
  }
  try {
    // A cluster of its own; its pod network octet is outside the tests' 16..215.
    const cluster = await startTestCluster(`porthole-bench-${process.pid}`, 216 + (process.pid % 30));
    cleanup(() => cluster.stop());
    const dir = tempDir('bench-k8s');
    cleanup(async () => dir.remove());
    const kc = kubeConfigFrom(cluster.kubeconfig);
    await ensureCrds(kc);
    const pids = componentPids(cluster);
    console.log(`cluster ${cluster.name}: ${SESSIONS} sessions (${USERS} users x ${TEMPLATES} templates), ${CONCURRENCY} at a time`);

    // The agent first: whatever a freshly started control plane costs (cold caches) lands on the agent,
    // not on the baseline, so the ratio is not flattered. Its namespace is then deleted and the bare loop
    // waits until the namespace and its volumes are gone, so it starts on an idle cluster.
    const agent = await agentPhase(kc, cluster, pids, dir.path, cleanup);
    const cleanupMs = await deleteNamespaceAndWait(kc, agent.ns);
    const bare = await barePhase(kc, pids);

    const a = summary(agent);
    const b = summary(bare);
    printTable(`${SESSIONS} sessions to Running on KWOK nodes, ${CONCURRENCY} at a time`, [
      { loop: 'agent (HTTP API)', ...a },
      { loop: 'bare client', ...b },
    ]);
    const stageRow = (stage: string) => {
      const [x, y] = [agent.stages[stage] ?? [], bare.stages[stage] ?? []];
      return { stage, agent_p50: round(percentile(x, 50)), agent_p99: round(percentile(x, 99)), bare_p50: y.length ? round(percentile(y, 50)) : '-', bare_p99: y.length ? round(percentile(y, 99)) : '-' };
    };
    printTable('Where the time goes (ms, as the bench\'s watches saw it)', Object.keys(agent.stages).map(stageRow));
    printTable('Agent: API requests by verb and resource', Object.entries(agent.requests).sort(([, x], [, y]) => y - x).map(([k, n]) => ({ request: k, total: n, per_session: round(n / SESSIONS, 2) })));
    printTable('CPU seconds used during each phase', [
      { component: 'agent', agent_phase: agent.agentCpuSeconds, bare_phase: '-' },
      ...Object.keys(agent.cpuSeconds).map((c) => ({ component: c, agent_phase: agent.cpuSeconds[c]!, bare_phase: bare.cpuSeconds[c] ?? NaN })),
    ]);
    console.log(`\nagent RSS: ${round(agent.idleRssMb)} MB idle, ${round(agent.peakRssMb)} MB peak (VmHWM); deleting the agent's namespace took ${round(cleanupMs / 1000, 1)} s`);
    const failures = [...agent.failures.map((f) => ({ loop: 'agent', ...f })), ...bare.failures.map((f) => ({ loop: 'bare', ...f }))];
    if (failures.length) {
      printTable(`Sessions that did not reach Running (${failures.length})`, failures.slice(0, 50));
    }
    printResult({
      benchmark: 'kubernetes-sessions',
      sessions: SESSIONS,
      concurrency: CONCURRENCY,
      agent: { ...a, peak_rss_mb: round(agent.peakRssMb), cpu_s: agent.agentCpuSeconds },
      bare: b,
      ratio_total: round(agent.totalMs / bare.totalMs, 2),
      ratio_p50: round(percentile(agent.latencies, 50) / percentile(bare.latencies, 50), 2),
      control_plane_cpu_s: { agent_phase: agent.cpuSeconds, bare_phase: bare.cpuSeconds },
      stages_p50_ms: { agent: p50s(agent.stages), bare: p50s(bare.stages) },
    });
    return failures.length ? 1 : 0;
  } finally {
    await runCleanups();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
