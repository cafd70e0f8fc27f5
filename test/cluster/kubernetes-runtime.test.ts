/**
 * The kubernetes runtime against a real control plane (kube-apiserver, etcd, controller-manager with
 * its garbage collector, scheduler, KWOK nodes): in-process runtimes for the reconciler's behaviour,
 * real agent processes for the HTTP API, several replicas and a SIGKILL. Each test has its own
 * namespace, so the tests run concurrently.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes, Session, SessionList } from '../../cluster-agent/contract/index.js';
import { startIdleReaper } from '../../cluster-agent/agent/idle-reaper.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { LEADER_LEASE_NAME } from '../../cluster-agent/kubernetes/install-manifests.js';
import { homeClaimName, sessionName, vncSecretName, type TemplateCRSpec } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession } from '../../cluster-agent/kubernetes/session-objects.js';
import { KubernetesRuntime, makeClients } from '../../cluster-agent/runtime/kubernetes/index.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { ensureCrds } from '../support/kube.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const podNet = inject('podNet');
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const CLI = 'cluster-agent/agent/cli.ts';
/** KWOK on this machine can take tens of seconds to mark a pod Running; these waits are for that, not speed checks. */
const SLOW = 90_000;
const log = pino({ level: process.env.PORTHOLE_TEST_LOG ?? 'silent' });

const runtimes: KubernetesRuntime[] = [];
const processes: Started[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];

beforeAll(async () => {
  // Cluster-scoped and shared by every test file: server-side apply, as the other files do (a plain
  // create here would make their apply conflict over field ownership).
  await ensureCrds(kc);
});

afterAll(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  for (const p of processes.splice(0)) await stopProcess(p.child, 'SIGKILL');
  for (const d of dirs.splice(0)) d.remove();
});

let nsCounter = 0;
async function namespace(prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${nsCounter++}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

async function template(ns: string, name: string, spec: Partial<TemplateCRSpec> = {}): Promise<void> {
  const t = xfceTemplate(ns);
  t.metadata.name = name;
  // KWOK nodes have room for anything; keep requests small so many tests fit at once.
  t.spec = { ...t.spec, resources: { requests: { cpu: '10m', memory: '16Mi' } }, ...spec };
  await custom.createNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'templates', body: t });
}

async function runtime(ns: string, opts: { startTimeoutMs?: number; identity?: string; leaseDurationMs?: number } = {}): Promise<KubernetesRuntime> {
  const r = new KubernetesRuntime({ clients: makeClients(kc), namespace: ns, logger: log, startTimeoutMs: opts.startTimeoutMs ?? 120_000, leaseDurationMs: opts.leaseDurationMs ?? 4000, ...(opts.identity ? { identity: opts.identity } : {}) });
  runtimes.push(r);
  await r.init();
  return r;
}

const pods = async (ns: string) => (await core.listNamespacedPod({ namespace: ns })).items;
const ownerUids = (p: V1Pod) => (p.metadata?.ownerReferences ?? []).map((r) => r.uid);

async function phaseOf(r: KubernetesRuntime, id: string, phases: string[], timeoutMs = SLOW): Promise<Session> {
  return waitFor(`session ${id} in ${phases.join('/')}`, async () => {
    const s = await r.get(id);
    return s && phases.includes(s.phase) ? s : undefined;
  }, timeoutMs, 250);
}

describe.concurrent('kubernetes runtime on a real control plane', { timeout: 150_000 }, () => {
  it('start creates Session, owned pod and Secret and the home PVC; 20 concurrent starts on two replicas give one pod; it runs; idle stops it and keeps the home; a new start is a fresh session', async () => {
    const ns = await namespace('kr-start');
    await template(ns, 'xfce', { idleTimeoutSeconds: 1 });
    const [a, b] = [await runtime(ns, { identity: 'replica-a' }), await runtime(ns, { identity: 'replica-b' })];
    await waitFor('a leader', () => a.isLeader !== b.isLeader);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).startOrGet('alice', 'xfce')));
    const id = sessionName('alice', 'xfce');
    expect(new Set(results.map((r) => r.session.id))).toEqual(new Set([id]));
    expect(results.filter((r) => r.created)).toHaveLength(1);

    const running = await phaseOf(a, id, ['Running']);
    expect(running.startedAt).toBeTruthy();
    const cr = (await custom.getNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'sessions', name: id })) as { metadata: { uid: string } };
    const all = await pods(ns);
    expect(all).toHaveLength(1);
    expect(all[0]!.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'Session', name: id, uid: cr.metadata.uid, controller: true })]);
    const secret = await core.readNamespacedSecret({ name: vncSecretName(id), namespace: ns });
    expect(ownerUids(secret)).toEqual([cr.metadata.uid]);
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: homeClaimName('alice'), namespace: ns });
    expect(pvc.metadata?.ownerReferences ?? []).toEqual([]);
    // Both replicas serve the same view and the same VNC endpoint (pod IP on the KWOK pod network).
    const [ea, eb] = await Promise.all([a.streamEndpoint(id, 'vnc'), b.streamEndpoint(id, 'vnc')]);
    expect(ea).toEqual(eb);
    expect(ea).toMatchObject({ kind: 'tcp', port: 5901 });
    expect((ea as { host: string }).host).toMatch(new RegExp(`^127\\.${podNet}\\.`));
    expect((ea as { password: string }).password.length).toBeGreaterThanOrEqual(8);
    // Events on the Session tell the story (sent in the background, so they may trail the status).
    await waitFor('a Running Event', async () => (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${id}` })).items.some((e) => e.reason === 'Running') || undefined);

    // The template's idleTimeoutSeconds (1 s) applies: a sweep on a non-leader replica stops it.
    await new Promise((r) => setTimeout(r, 1100));
    const follower = a.isLeader ? b : a;
    const verdicts = await startIdleReaper({ runtime: follower, logger: log }).sweep();
    expect(verdicts.map((v) => v.id)).toEqual([id]);
    const stopped = await phaseOf(a, id, ['Stopped']);
    expect(stopped.message).toMatch(/Idle: no client for 1 second/);
    await waitFor('pod deleted', async () => ((await pods(ns)).length === 0 ? true : undefined), SLOW);
    expect((await core.readNamespacedPersistentVolumeClaim({ name: homeClaimName('alice'), namespace: ns })).metadata?.uid).toBe(pvc.metadata?.uid);

    // Start again: the ended session is replaced by a fresh Pending one of the same id.
    const again = await b.startOrGet('alice', 'xfce');
    expect(again.created).toBe(true);
    expect(again.session.phase).toBe('Pending');
    expect(again.session.startedAt).toBeUndefined();
    expect(Date.parse(again.session.createdAt)).toBeGreaterThanOrEqual(Date.parse(running.createdAt));
    await phaseOf(a, id, ['Running']);
    expect((await pods(ns)).filter((p) => !p.metadata?.deletionTimestamp)).toHaveLength(1);
  });

  it('deleting a Session removes its pod and Secret (garbage collector) and keeps the home', async () => {
    const ns = await namespace('kr-gc');
    await template(ns, 'xfce');
    const r = await runtime(ns);
    const { session } = await r.startOrGet('bob', 'xfce');
    await waitFor('pod and secret', async () => ((await pods(ns)).length === 1 ? true : undefined), SLOW);
    await core.readNamespacedSecret({ name: vncSecretName(session.id), namespace: ns });
    await custom.deleteNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'sessions', name: session.id });
    await waitFor('pod gone', async () => ((await pods(ns)).length === 0 ? true : undefined), SLOW);
    await waitFor('secret gone', async () => core.readNamespacedSecret({ name: vncSecretName(session.id), namespace: ns }).then(() => undefined, (e: { code?: number }) => e.code === 404 || undefined), SLOW);
    await core.readNamespacedPersistentVolumeClaim({ name: homeClaimName('bob'), namespace: ns });
    expect(await r.get(session.id)).toBeUndefined();
  });

  it('a pod that fails (KWOK chaos) makes the session Failed/Crashed with the exit code', async () => {
    const ns = await namespace('kr-crash');
    await template(ns, 'broken', {
      podLabels: { 'pod-container-running-failed.stage.kwok.x-k8s.io': 'true' },
      podAnnotations: { 'pod-container-running-failed.stage.kwok.x-k8s.io/message': 'Xvnc exited' },
    });
    const r = await runtime(ns);
    const { session } = await r.startOrGet('carol', 'broken');
    const failed = await phaseOf(r, session.id, ['Failed']);
    expect(failed.reason).toBe('Crashed');
    expect(failed.message).toMatch(/exit code 1/);
    expect(failed.message).toContain('Xvnc exited');
    await waitFor('failed pod removed', async () => ((await pods(ns)).length === 0 ? true : undefined), SLOW);
    const crashed = await waitFor('a Crashed Event', async () => (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${session.id}` })).items.find((e) => e.reason === 'Crashed'));
    expect(crashed.type).toBe('Warning');
  });

  it("an unschedulable template says why in the scheduler's words, then fails as Unschedulable", async () => {
    const ns = await namespace('kr-unsched');
    await template(ns, 'nowhere', { nodeSelector: { 'porthole.dev/no-such-node': 'true' } });
    const r = await runtime(ns, { startTimeoutMs: 8000 });
    const { session } = await r.startOrGet('dave', 'nowhere');
    // The scheduler's first try can come before the new home PVC is bound ("pod has unbound immediate
    // PersistentVolumeClaims"); wait for its verdict on the nodes themselves.
    const pending = await waitFor('scheduler message about the nodes', async () => {
      const s = await r.get(session.id);
      return s?.message?.includes('nodes are available') && s.message.includes('node affinity/selector') ? s : undefined;
    }, SLOW);
    expect(pending.phase).toBe('Pending');
    expect(pending.message).toMatch(/node affinity\/selector/);
    const failed = await phaseOf(r, session.id, ['Failed']);
    expect(failed.reason).toBe('Unschedulable');
    expect(failed.message).toMatch(/0\/\d+ nodes are available/);
  });

  it('a ResourceQuota with no room for Secrets or PVCs makes the session Failed/Quota with a sentence, not Pending forever', async () => {
    for (const [resource, what] of [['secrets', /VNC Secret/], ['persistentvolumeclaims', /home folder/]] as const) {
      const ns = await namespace(`kr-quota-${resource.slice(0, 3)}`);
      await template(ns, 'xfce');
      await core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'none' }, spec: { hard: { [resource]: '0' } } } });
      // The quota controller must have computed usage before the admission plugin enforces it.
      await waitFor('quota status', async () => ((await core.readNamespacedResourceQuota({ name: 'none', namespace: ns })).status?.hard ? true : undefined));
      const r = await runtime(ns);
      const { session } = await r.startOrGet('quinn', 'xfce');
      const failed = await phaseOf(r, session.id, ['Failed']);
      expect(failed.reason).toBe('Quota');
      expect(failed.message).toMatch(what);
      expect(failed.message).toMatch(/exceeded quota/);
      expect(failed.message).toMatch(/Stop another desktop, or ask an administrator to raise the quota/);
      expect(await pods(ns)).toHaveLength(0);
    }
  });

  it('a start that cannot go on (an earlier pod of the name stuck Terminating) ends as Failed/Timeout at the deadline', async () => {
    const ns = await namespace('kr-stuck');
    await template(ns, 'xfce');
    const id = sessionName('tess', 'xfce');
    // An un-owned pod of the session's name, held by a finalizer after its delete: Terminating for good.
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: id, labels: { 'app.kubernetes.io/managed-by': 'porthole-agent' }, finalizers: ['porthole.dev/test-hold'] },
        spec: { nodeSelector: { 'porthole.dev/no-such-node': 'true' }, containers: [{ name: 'desktop', image: 'registry.example/x:1' }] },
      },
    });
    await core.deleteNamespacedPod({ name: id, namespace: ns });
    try {
      const r = await runtime(ns, { startTimeoutMs: 4000 });
      const { session } = await r.startOrGet('tess', 'xfce');
      const pending = await waitFor('waiting for the previous pod', async () => {
        const s = await r.get(session.id);
        return s?.message?.includes('previous desktop') ? s : undefined;
      }, SLOW);
      expect(pending.phase).toBe('Pending');
      const failed = await phaseOf(r, session.id, ['Failed']);
      expect(failed.reason).toBe('Timeout');
      expect(failed.message).toMatch(/did not start within 4 seconds \(its pod was never created; last error: the previous pod .* is still being deleted\)/);
    } finally {
      await core.patchNamespacedPod({ name: id, namespace: ns, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    }
  });

  it('a stop decided on an older view leaves a fresh restart and a watched session alone; a still-idle one stops', async () => {
    const ns = await namespace('kr-stopguard');
    await template(ns, 'xfce');
    const r = await runtime(ns);
    const { session } = await r.startOrGet('uma', 'xfce');
    const old = await phaseOf(r, session.id, ['Running']);
    await r.stop(session.id, 'test');
    await phaseOf(r, session.id, ['Stopped']);
    await r.startOrGet('uma', 'xfce');
    const fresh = await phaseOf(r, session.id, ['Running']);
    expect(fresh.startedAt).not.toBe(old.startedAt);
    // An idle verdict about the old incarnation (a stale sweep) does not stop the user's new desktop.
    await r.stop(session.id, 'Idle: no client for 1 second', { createdAt: old.createdAt, startedAt: old.startedAt!, idleTimeoutSeconds: 1 });
    expect((await r.get(session.id))?.phase).toBe('Running');
    // A viewer on this replica counts at once, and an idle stop re-checks it.
    await new Promise((ok) => setTimeout(ok, 1100));
    await r.setConnectedClients(session.id, 1);
    expect((await r.get(session.id))?.connectedClients).toBe(1);
    await r.stop(session.id, 'Idle: no client for 1 second', { createdAt: fresh.createdAt, startedAt: fresh.startedAt!, idleTimeoutSeconds: 1 });
    expect((await r.get(session.id))?.phase).toBe('Running');
    // The same verdict when it is true: the viewer left a while ago.
    await r.setConnectedClients(session.id, 0);
    await new Promise((ok) => setTimeout(ok, 1100));
    await r.stop(session.id, 'Idle: no client for 1 second', { createdAt: fresh.createdAt, startedAt: fresh.startedAt!, idleTimeoutSeconds: 1 });
    expect((await phaseOf(r, session.id, ['Stopping', 'Stopped'])).message).toMatch(/Idle/);
  });

  it("a Session of the start's name that belongs to another user is never handed out (409)", async () => {
    const ns = await namespace('kr-collide');
    await template(ns, 'xfce');
    const r = await runtime(ns);
    const name = sessionName('vic', 'xfce');
    // As a hash collision (or a hand-made object) would leave it: vic's name, mallory's session.
    await custom.createNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'sessions', body: buildSession(name, ns, 'mallory', 'xfce') });
    await expect(r.startOrGet('vic', 'xfce')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already used by another user/) });
  });

  it('a WebRTC template: the pod runs a streamer container, the webrtc endpoint is its port with its own secret; a VNC-only template refuses webrtc', async () => {
    const ns = await namespace('kr-webrtc');
    await template(ns, 'rtc', { protocols: ['webrtc', 'vnc'] });
    await template(ns, 'plain', { protocols: ['vnc'] });
    const r = await runtime(ns);
    expect((await r.templates()).find((t) => t.name === 'rtc')?.protocols).toEqual(['webrtc', 'vnc']);
    const rtc = (await r.startOrGet('wendy', 'rtc')).session;
    const plain = (await r.startOrGet('wendy', 'plain')).session;
    await phaseOf(r, rtc.id, ['Running']);
    await phaseOf(r, plain.id, ['Running']);
    const pod = (await pods(ns)).find((p) => p.metadata?.labels?.['porthole.dev/session'] === rtc.id)!;
    expect(pod.spec!.containers.map((c) => c.name)).toEqual(['desktop', 'streamer']);
    const webrtc = await r.streamEndpoint(rtc.id, 'webrtc');
    const vnc = await r.streamEndpoint(rtc.id, 'vnc');
    expect(webrtc).toMatchObject({ kind: 'tcp', host: pod.status?.podIP, port: 8443 });
    expect(webrtc.secret.length).toBeGreaterThanOrEqual(32);
    expect(webrtc.secret).not.toBe(vnc.password);
    await expect(r.streamEndpoint(plain.id, 'webrtc')).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/VNC only/) });
  });

  it('a warm pool hands a start a running pod at once and refills itself', async () => {
    const ns = await namespace('kr-warm');
    await template(ns, 'warm', { warmPool: { replicas: 1 } });
    const r = await runtime(ns);
    const warmReady = () => pods(ns).then((ps) => ps.find((p) => p.metadata?.labels?.['porthole.dev/warm'] === 'true' && p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')));
    const warmPod = await waitFor('a ready warm pod', warmReady, SLOW);
    // The runtime's cache sees what the API server says a moment later; starts claim from the cache.
    await new Promise((ok) => setTimeout(ok, 500));
    const { session, created } = await r.startOrGet('erin', 'warm');
    expect(created).toBe(true);
    expect(session.phase).toBe('Running');
    const claimed = await core.readNamespacedPod({ name: warmPod.metadata!.name!, namespace: ns });
    expect(claimed.metadata?.labels?.['porthole.dev/warm']).toBeUndefined();
    expect(claimed.metadata?.ownerReferences?.map((o) => o.kind)).toEqual(['Session']);
    const endpoint = await r.streamEndpoint(session.id, 'vnc');
    expect(endpoint).toMatchObject({ kind: 'tcp', host: claimed.status?.podIP, port: 5901 });
    await waitFor('pool refilled', async () => ((await pods(ns)).some((p) => p.metadata?.labels?.['porthole.dev/warm'] === 'true') ? true : undefined), SLOW);
  });

  it('real agents: two replicas share tokens, users see only their own sessions, one pod per session, one leader', async () => {
    const ns = await namespace('kr-agents');
    await template(ns, 'xfce');
    const dir = tempDir('kr-agents');
    dirs.push(dir);
    const users = join(dir.path, 'users.yaml');
    for (const u of ['alice', 'bob']) expect((await runCli(CLI, ['users', 'add', u, '--file', users, '--password-stdin'], `${u}-pw`)).code).toBe(0);
    const mine: Started[] = [];
    const serve = async (n: number) => {
      const s = await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, `data${n}`) });
      processes.push(s);
      mine.push(s);
      return s.match[1]!;
    };
    const [urlA, urlB] = await Promise.all([serve(1), serve(2)]);
    // A token from one replica is accepted by the other: the signing key is in a shared Secret.
    const alice = await login(urlA, 'alice', 'alice-pw');
    const bob = await login(urlB, 'bob', 'bob-pw');
    const post = (url: string, token: string) =>
      fetch(new URL(routes.sessions, url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ template: 'xfce' }) });
    const responses = await Promise.all([post(urlB, alice), post(urlA, alice), post(urlA, bob), post(urlB, bob)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 202, 202]);
    const aliceId = sessionName('alice', 'xfce');
    const get = (url: string, token: string, path: string) => fetch(new URL(path, url), { headers: { authorization: `Bearer ${token}` } });
    const aliceList = await waitFor('alice sees her session on both replicas', async () => {
      const [la, lb] = await Promise.all([get(urlA, alice, routes.sessions), get(urlB, alice, routes.sessions)].map(async (p) => SessionList.parse(await (await p).json())));
      return la!.sessions.length === 1 && lb!.sessions.length === 1 ? la : undefined;
    });
    expect(aliceList.sessions.map((s) => s.id)).toEqual([aliceId]);
    expect((await get(urlB, bob, routes.session(aliceId))).status).toBe(404);
    const bobList = SessionList.parse(await (await get(urlA, bob, routes.sessions)).json());
    expect(bobList.sessions.map((s) => s.user)).toEqual(['bob']);

    await waitFor('both Running', async () => {
      const s = await Promise.all([get(urlA, alice, routes.session(aliceId)), get(urlB, bob, routes.session(sessionName('bob', 'xfce')))].map(async (p) => Session.parse(await (await p).json())));
      return s.every((x) => x.phase === 'Running') || undefined;
    }, SLOW);
    const all = await pods(ns);
    expect(all.map((p) => p.metadata?.name).sort()).toEqual([aliceId, sessionName('bob', 'xfce')].sort());
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEADER_LEASE_NAME, namespace: ns });
    expect(lease.spec?.holderIdentity).toMatch(new RegExp(`-(${mine.map((p) => p.child.pid).join('|')})$`));
    const connect = await fetch(new URL(routes.connect(aliceId), urlB), { method: 'POST', headers: { authorization: `Bearer ${alice}` } });
    expect(connect.status).toBe(200);
    // What each replica sent to the API server is on its /metrics: the leader created the pods.
    const metrics = await Promise.all([urlA, urlB].map(async (u) => (await fetch(new URL('/metrics', u))).text()));
    const count = (text: string, verb: string, resource: string) => Number(new RegExp(`^porthole_kubernetes_requests_total\\{verb="${verb}",resource="${resource}",code="20\\d"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(metrics.map((m) => count(m, 'create', 'pods')).sort()).toEqual([0, 2]);
    for (const m of metrics) expect(count(m, 'watch', 'sessions')).toBeGreaterThanOrEqual(1);
  });

  it('an agent SIGKILLed mid-provisioning loses nothing: a new process finishes the start', async () => {
    const ns = await namespace('kr-kill');
    await template(ns, 'xfce');
    const dir = tempDir('kr-kill');
    dirs.push(dir);
    const users = join(dir.path, 'users.yaml');
    expect((await runCli(CLI, ['users', 'add', 'frank', '--file', users, '--password-stdin'], 'frank-pw')).code).toBe(0);
    const agentOptions = { kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, 'data') };
    const first = await startKubernetesAgent(agentOptions);
    processes.push(first);
    const token = await login(first.match[1]!, 'frank', 'frank-pw');
    const res = await fetch(new URL(routes.sessions, first.match[1]!), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ template: 'xfce' }) });
    expect(res.status).toBe(202);
    await stopProcess(first.child, 'SIGKILL');
    const second = await startKubernetesAgent(agentOptions);
    processes.push(second);
    // The access token of the killed process still works: the key is in the cluster, not the process.
    const id = sessionName('frank', 'xfce');
    const s = await waitFor('Running after the restart', async () => {
      const r = await fetch(new URL(routes.session(id), second.match[1]!), { headers: { authorization: `Bearer ${token}` } });
      const body = Session.parse(await r.json());
      return body.phase === 'Running' ? body : undefined;
    }, SLOW + 30_000, 500);
    expect(s.id).toBe(id);
    expect((await pods(ns)).map((p) => p.metadata?.name)).toEqual([id]);
    await core.readNamespacedSecret({ name: vncSecretName(id), namespace: ns });
    await core.readNamespacedPersistentVolumeClaim({ name: homeClaimName('frank'), namespace: ns });
  });
});
