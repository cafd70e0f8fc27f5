import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { sessionName, type SessionCRStatus, type SessionResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession } from '../../cluster-agent/kubernetes/session-objects.js';
import { requestKind } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { mayAcquire } from '../../cluster-agent/runtime/kubernetes/leader-election.js';
import { deriveStatus, nextDeadline, statusPatch } from '../../cluster-agent/runtime/kubernetes/session-status.js';
import { devicesOfOtherReplicas, expectedStartSeconds, sessionView, templateSpecOf, viewerSummary } from '../../cluster-agent/runtime/kubernetes/session-view.js';
import { claimable, claimPatch, planWarmPool } from '../../cluster-agent/runtime/kubernetes/warm-pool.js';
import { backoffDelay, WorkQueue } from '../../cluster-agent/runtime/kubernetes/work-queue.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';

const T0 = Date.parse('2030-01-01T10:00:00Z');
const TIMEOUT = 60_000;

function session(status?: SessionCRStatus): SessionResource {
  const s = buildSession(sessionName('alice', 'xfce'), 'ns', 'alice', 'xfce');
  s.metadata.uid = 'uid-1';
  s.metadata.resourceVersion = '10';
  s.metadata.creationTimestamp = new Date(T0).toISOString() as unknown as Date;
  if (status) s.status = status;
  return s;
}

type PodPatch = { phase?: string; nodeName?: string; podIP?: string; ready?: boolean; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number; reason?: string; message?: string }; scheduled?: { status: string; reason?: string; message?: string }; deleting?: boolean };

function pod(p: PodPatch = {}): V1Pod {
  const conditions = [];
  if (p.scheduled) conditions.push({ type: 'PodScheduled', ...p.scheduled });
  if (p.ready !== undefined) conditions.push({ type: 'Ready', status: p.ready ? 'True' : 'False' });
  const state = p.waiting ? { waiting: p.waiting } : p.terminated ? { terminated: p.terminated } : p.phase === 'Running' ? { running: {} } : undefined;
  return {
    metadata: { name: 'alice-xfce-1', ownerReferences: [{ apiVersion: 'porthole.dev/v1alpha1', kind: 'Session', name: 'x', uid: 'uid-1' }], ...(p.deleting ? { deletionTimestamp: new Date(T0) } : {}) },
    spec: { containers: [{ name: 'desktop', image: 'img:1' }], ...(p.nodeName ? { nodeName: p.nodeName } : {}) },
    status: {
      ...(p.phase ? { phase: p.phase } : {}),
      ...(p.podIP ? { podIP: p.podIP } : {}),
      conditions: conditions as never,
      ...(state ? { containerStatuses: [{ name: 'desktop', image: 'img:1', imageID: '', ready: !!p.ready, restartCount: 0, state }] } : {}),
    },
  };
}

const at = (ms: number) => ({ now: T0 + ms, startTimeoutMs: TIMEOUT });

describe('deriveStatus: what the cluster says -> a phase and a sentence', () => {
  it('Pending without a pod or node, Starting once placed, Running when ready with an IP', () => {
    expect(deriveStatus({ session: session(), ...at(1000) })).toMatchObject({ phase: 'Pending' });
    expect(deriveStatus({ session: session(), pod: pod({ phase: 'Pending' }), ...at(1000) })).toMatchObject({ phase: 'Pending', message: expect.stringMatching(/node/) });
    expect(deriveStatus({ session: session(), pod: pod({ phase: 'Pending', nodeName: 'n1', waiting: { reason: 'ContainerCreating' } }), ...at(1000) })).toMatchObject({ phase: 'Starting' });
    const running = deriveStatus({ session: session(), pod: pod({ phase: 'Running', nodeName: 'n1', podIP: '127.16.0.5', ready: true }), ...at(2000) });
    expect(running).toEqual({ phase: 'Running', podName: 'alice-xfce-1', podIP: '127.16.0.5', startedAt: new Date(T0 + 2000).toISOString() });
    // Running but not yet ready (VNC port not answering): still Starting.
    expect(deriveStatus({ session: session(), pod: pod({ phase: 'Running', nodeName: 'n1', podIP: '127.16.0.5', ready: false }), ...at(2000) }).phase).toBe('Starting');
  });

  it('image pull errors fail with ImagePullError naming the image (a first ErrImagePull is retried)', () => {
    for (const reason of ['ImagePullBackOff', 'InvalidImageName']) {
      const s = deriveStatus({ session: session(), pod: pod({ phase: 'Pending', nodeName: 'n1', waiting: { reason, message: 'manifest unknown' } }), ...at(3000) });
      expect(s).toMatchObject({ phase: 'Failed', reason: 'ImagePullError' });
      expect(s.message).toContain('img:1');
      expect(s.message).toContain(reason);
    }
    expect(deriveStatus({ session: session(), pod: pod({ phase: 'Pending', nodeName: 'n1', waiting: { reason: 'ErrImagePull' } }), ...at(3000) }).phase).toBe('Starting');
  });

  it("unschedulable says the scheduler's words while pending, and fails with them at the deadline", () => {
    const unsched = pod({ phase: 'Pending', scheduled: { status: 'False', reason: 'Unschedulable', message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." } });
    const early = deriveStatus({ session: session(), pod: unsched, ...at(5000) });
    expect(early.phase).toBe('Pending');
    expect(early.message).toContain("didn't match Pod's node affinity/selector");
    const late = deriveStatus({ session: session(), pod: unsched, ...at(TIMEOUT + 1) });
    expect(late).toMatchObject({ phase: 'Failed', reason: 'Unschedulable' });
    expect(late.message).toContain("0/3 nodes are available");
  });

  it('crash loops and non-zero exits are Crashed with the exit code; exit 0 (logout) is Stopped', () => {
    const loop = deriveStatus({ session: session(), pod: pod({ phase: 'Running', nodeName: 'n1', waiting: { reason: 'CrashLoopBackOff' } }), ...at(3000) });
    expect(loop).toMatchObject({ phase: 'Failed', reason: 'Crashed' });
    const died = deriveStatus({ session: session({ phase: 'Running' }), pod: pod({ phase: 'Failed', nodeName: 'n1', terminated: { exitCode: 1, reason: 'containerFailed', message: 'Xvnc exited' } }), ...at(3000) });
    expect(died).toMatchObject({ phase: 'Failed', reason: 'Crashed' });
    expect(died.message).toMatch(/exit code 1, containerFailed: Xvnc exited/);
    expect(deriveStatus({ session: session({ phase: 'Running' }), pod: pod({ phase: 'Succeeded', terminated: { exitCode: 0 } }), ...at(3000) }).phase).toBe('Stopped');
  });

  it('a pod refused for quota is Failed/Quota; other refusals are Rejected', () => {
    const q = deriveStatus({ session: session(), createError: { status: 403, message: 'pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1' }, ...at(100) });
    expect(q).toMatchObject({ phase: 'Failed', reason: 'Quota' });
    expect(q.message).toContain('exceeded quota');
    expect(deriveStatus({ session: session(), createError: { status: 403, message: 'violates PodSecurity "restricted"' }, ...at(100) })).toMatchObject({ phase: 'Failed', reason: 'Rejected' });
  });

  it('times out when not Running within the start timeout, saying where it got stuck', () => {
    const t = deriveStatus({ session: session(), pod: pod({ phase: 'Pending', nodeName: 'n1', waiting: { reason: 'ContainerCreating' } }), ...at(TIMEOUT) });
    expect(t).toMatchObject({ phase: 'Failed', reason: 'Timeout' });
    expect(t.message).toMatch(/within 60 seconds \(it did not become ready\)/);
    expect(nextDeadline(session(), TIMEOUT, T0 + 1000)).toBe(TIMEOUT - 1000);
    expect(nextDeadline(session({ phase: 'Running' }), TIMEOUT, T0)).toBeUndefined();
  });

  it('terminal phases stick; Stopping becomes Stopped when the pod is gone; a vanished Running pod is PodLost', () => {
    const failed = session({ phase: 'Failed', reason: 'Quota', message: 'm' });
    expect(deriveStatus({ session: failed, pod: pod({ phase: 'Running', podIP: '1.2.3.4', ready: true }), ...at(1) })).toMatchObject({ phase: 'Failed', reason: 'Quota' });
    expect(deriveStatus({ session: session({ phase: 'Stopping', message: 'Idle' }), pod: pod({ phase: 'Running', deleting: true }), ...at(1) }).phase).toBe('Stopping');
    expect(deriveStatus({ session: session({ phase: 'Stopping', message: 'Idle' }), ...at(1) })).toMatchObject({ phase: 'Stopped', message: 'Idle' });
    expect(deriveStatus({ session: session({ phase: 'Running', podName: 'p' }), ...at(1) })).toMatchObject({ phase: 'Failed', reason: 'PodLost' });
  });

  it('statusPatch writes only changes, nulls removed fields, stamps phaseSince and drops viewers at the end', () => {
    const cur: SessionCRStatus = { phase: 'Starting', message: 'x', podName: 'p', phaseSince: 'old', viewers: { r: { count: 1, seenAt: 'now' } } };
    expect(statusPatch(cur, { phase: 'Starting', message: 'y', podName: 'p' }, T0)).toEqual({ message: 'y' });
    expect(statusPatch(cur, { phase: 'Failed', reason: 'Crashed', message: 'z' }, T0)).toEqual({ phase: 'Failed', reason: 'Crashed', message: 'z', podName: null, phaseSince: new Date(T0).toISOString(), viewers: null });
  });
});

describe('session view and templates', () => {
  it('sums fresh viewer counts across replicas; stale ones only count as past activity', () => {
    const now = T0 + 600_000;
    const st: SessionCRStatus = {
      phase: 'Running',
      viewers: { a: { count: 1, seenAt: new Date(now - 10_000).toISOString() }, b: { count: 2, seenAt: new Date(now - 30_000).toISOString() }, dead: { count: 5, seenAt: new Date(now - 400_000).toISOString() } },
    };
    expect(viewerSummary(st, now)).toEqual({ connectedClients: 3, lastActiveAt: new Date(now).toISOString() });
    const idle: SessionCRStatus = { phase: 'Running', viewers: { a: { count: 0, seenAt: new Date(now - 10_000).toISOString() }, dead: { count: 5, seenAt: new Date(now - 400_000).toISOString() } } };
    expect(viewerSummary(idle, now)).toEqual({ connectedClients: 0, lastActiveAt: new Date(now - 10_000).toISOString() });
    const v = sessionView(session({ phase: 'Running', phaseSince: new Date(T0 + 5000).toISOString(), startedAt: 's', viewers: st.viewers }), now);
    expect(v).toMatchObject({ id: sessionName('alice', 'xfce'), user: 'alice', template: 'xfce', phase: 'Running', connectedClients: 3, createdAt: new Date(T0).toISOString() });
  });

  it("names the devices other replicas show a session on: not its own, not a replica that stopped or died", () => {
    const now = T0 + 600_000;
    const at = (ago: number) => new Date(now - ago).toISOString();
    const viewers = {
      me: { count: 1, seenAt: at(1000), devices: ['mine'] },
      b: { count: 2, seenAt: at(5000), devices: ['kiosk-1', 'laptop'] },
      c: { count: 1, seenAt: at(2000), devices: ['kiosk-1'] },
      left: { count: 0, seenAt: at(1000), devices: ['gone'] },
      dead: { count: 1, seenAt: at(400_000), devices: ['dead'] },
      old: { count: 1, seenAt: at(1000) }, // a replica from before devices were reported
    };
    expect(devicesOfOtherReplicas(viewers, 'me', now).sort()).toEqual(['kiosk-1', 'laptop']);
    expect(devicesOfOtherReplicas(undefined, 'me', now)).toEqual([]);
  });

  it('templates keep who may use them and default the idle timeout', () => {
    const t = xfceTemplate('ns');
    t.spec.allowedGroups = ['dev'];
    delete t.spec.idleTimeoutSeconds;
    expect(templateSpecOf(t)).toEqual({ name: 'xfce', displayName: 'XFCE desktop', description: t.spec.description, available: true, protocols: ['vnc'], idleTimeoutSeconds: 3600, allowedGroups: ['dev'] });
  });
});

describe('warm pools', () => {
  const warm = (name: string, ready: boolean, created: string, phase = 'Running'): V1Pod => ({
    metadata: { name, creationTimestamp: created as unknown as Date, resourceVersion: '7', labels: { 'porthole.dev/warm': 'true', 'porthole.dev/template': 'xfce' } },
    status: { phase, podIP: '127.16.0.9', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  it('plans additions up to replicas, removes broken and excess pods', () => {
    const t = xfceTemplate('ns');
    t.spec.warmPool = { replicas: 2 };
    expect(planWarmPool(t, 'xfce', [])).toEqual({ create: 2, remove: [] });
    expect(planWarmPool(t, 'xfce', [warm('a', true, '1'), warm('b', false, '2'), warm('c', true, '3'), warm('d', false, '0', 'Failed')])).toEqual({ create: 0, remove: ['d', 'c'] });
    expect(planWarmPool(undefined, 'xfce', [warm('a', true, '1')])).toEqual({ create: 0, remove: ['a'] });
  });

  it('claims ready pods oldest first with a resourceVersion-guarded patch that makes the Session the owner', () => {
    expect(claimable([warm('new', true, '2'), warm('old', true, '1'), warm('cold', false, '0')], 'xfce').map((p) => p.metadata!.name)).toEqual(['old', 'new']);
    const patch = claimPatch(warm('old', true, '1'), session()) as { metadata: Record<string, unknown> };
    expect(patch.metadata.resourceVersion).toBe('7');
    expect((patch.metadata.labels as Record<string, unknown>)['porthole.dev/warm']).toBeNull();
    expect(patch.metadata.ownerReferences).toEqual([{ apiVersion: 'porthole.dev/v1alpha1', kind: 'Session', name: sessionName('alice', 'xfce'), uid: 'uid-1', controller: true }]);
  });
});

describe('work queue and leader election', () => {
  it('dedupes a key queued twice, never runs one key twice at once, retries failures with backoff', async () => {
    const runs: string[] = [];
    let active = 0;
    let maxActive = 0;
    let failOnce = true;
    const q = new WorkQueue(
      async (key) => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs.push(key);
        await new Promise((r) => setTimeout(r, 20));
        active--;
        if (key === 'b' && failOnce) {
          failOnce = false;
          throw new Error('boom');
        }
      },
      { baseBackoffMs: 10, concurrency: 1 },
    );
    q.start();
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a'); // a is running or queued: at most one more run
    await new Promise((r) => setTimeout(r, 300));
    await q.idle();
    expect(runs.filter((k) => k === 'b')).toHaveLength(2); // failed once, retried
    expect(runs.filter((k) => k === 'a').length).toBeLessThanOrEqual(2);
    expect(maxActive).toBe(1);
    q.stop();
    expect(backoffDelay(1, 200, 30_000)).toBe(200);
    expect(backoffDelay(4, 200, 30_000)).toBe(1600);
    expect(backoffDelay(20, 200, 30_000)).toBe(30_000);
  });

  it('takes a Lease only when free, its own, or unchanged for a whole lease duration', () => {
    const lease = (holder?: string) => ({ spec: { ...(holder ? { holderIdentity: holder } : {}), leaseDurationSeconds: 15 } });
    expect(mayAcquire(undefined, 'me', 0, 15_000)).toBe(true);
    expect(mayAcquire(lease(), 'me', 0, 15_000)).toBe(true);
    expect(mayAcquire(lease('me'), 'me', 0, 15_000)).toBe(true);
    expect(mayAcquire(lease('other'), 'me', 14_999, 15_000)).toBe(false);
    expect(mayAcquire(lease('other'), 'me', 15_000, 15_000)).toBe(true);
  });
});

describe('API request metric', () => {
  it('names verb and resource as the API server does (list vs get, subresources, watches)', () => {
    const base = 'https://127.0.0.1:6443';
    expect(requestKind('GET', `${base}/apis/porthole.dev/v1alpha1/namespaces/ns/sessions?limit=1`)).toEqual({ verb: 'list', resource: 'sessions' });
    expect(requestKind('GET', `${base}/apis/porthole.dev/v1alpha1/namespaces/ns/sessions/s1`)).toEqual({ verb: 'get', resource: 'sessions' });
    expect(requestKind('PATCH', `${base}/apis/porthole.dev/v1alpha1/namespaces/ns/sessions/s1/status`)).toEqual({ verb: 'patch', resource: 'sessions/status' });
    expect(requestKind('POST', `${base}/api/v1/namespaces/ns/pods`)).toEqual({ verb: 'create', resource: 'pods' });
    expect(requestKind('DELETE', `${base}/api/v1/namespaces/ns/pods/p`)).toEqual({ verb: 'delete', resource: 'pods' });
    expect(requestKind('PUT', `${base}/apis/coordination.k8s.io/v1/namespaces/ns/leases/l`)).toEqual({ verb: 'update', resource: 'leases' });
    expect(requestKind('GET', '/api/v1/namespaces/ns/pods?watch=true&labelSelector=a%3Db')).toEqual({ verb: 'watch', resource: 'pods' });
    expect(requestKind('GET', `${base}/api/v1/namespaces/ns`)).toEqual({ verb: 'get', resource: 'namespaces' });
  });
});

describe('the typical start time shown while a desktop starts', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 9, 0, s)).toISOString();
  const sample = (name: string, template: string, created: number, started?: number): SessionResource => ({
    apiVersion: 'porthole.dev/v1alpha1',
    kind: 'Session',
    metadata: { name, namespace: 'ns', creationTimestamp: at(created) as unknown as Date },
    spec: { user: name, template },
    status: { phase: started === undefined ? 'Pending' : 'Running', ...(started === undefined ? {} : { startedAt: at(started) }) },
  });

  it('is the median of the latest starts of that template, and unknown before any', () => {
    const sessions = [sample('a', 'xfce', 0, 4), sample('b', 'xfce', 10, 30), sample('c', 'xfce', 20, 26), sample('d', 'gpu', 0, 50), sample('e', 'xfce', 40)];
    expect(expectedStartSeconds(sessions, 'xfce')).toBe(6);
    expect(expectedStartSeconds(sessions, 'gpu')).toBe(50);
    expect(expectedStartSeconds(sessions, 'terminal')).toBeUndefined();
  });
});
