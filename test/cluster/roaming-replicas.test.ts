/**
 * Roaming across agent replicas: two real agent processes serve one namespace (as a Deployment's
 * replicas behind a Service would). A person's desktop shows on device A through replica 1; opening it on
 * device B through replica 2 ends A's stream with the sentence, as it does on one replica, while a tool
 * that names no device keeps watching; and while A shows it, B's automatic reconnect is refused by either
 * replica, not only by the one A's stream goes through. The desktop behind the pod IP is the test-only stand-in for a
 * container (test/support/pod-desktops.ts); everything else is real.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConnectResponse, OPENED_ELSEWHERE_CLOSE, OPENED_ELSEWHERE_MESSAGE, routes, Session } from '../../cluster-agent/contract/index.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { deleteNamespaces } from '../support/kube.js';
import { namespaceWithPodDesktops, type PodDesktops } from '../support/pod-desktops.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';

const CLI = 'cluster-agent/agent/cli.ts';
const kc = kubeConfigFrom(inject('kubeconfig'));
const dir = tempDir('roaming-replicas');
let ns = '';
let desktops: PodDesktops | undefined;
const replicas: Started[] = [];

beforeAll(async () => {
  ({ ns, desktops } = await namespaceWithPodDesktops(kc, 'roaming'));
  const users = join(dir.path, 'users.yaml');
  expect((await runCli(CLI, ['users', 'add', 'rosa', '--file', users, '--password-stdin'], 'rosa-password')).code).toBe(0);
  for (const i of [1, 2]) replicas.push(await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, `data${i}`) }));
}, 120_000);

afterAll(async () => {
  for (const r of replicas) await stopProcess(r.child);
  await desktops?.stop();
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

const url = (i: number) => replicas[i - 1]!.match[1]!;

async function call(base: string, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, base), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
}

async function open(base: string, token: string, id: string, viewer?: { device: string; takeOver: boolean }): Promise<RfbClient> {
  const res = await call(base, token, routes.connect(id), { method: 'POST', ...(viewer ? { body: JSON.stringify(viewer) } : {}) });
  expect(res.status).toBe(200);
  return RfbClient.connect({ kind: 'ws', url: ConnectResponse.parse(await res.json()).vnc.url });
}

/** Resolves with how the stream ended (its close), or says it is still open (an update, or 10 s of nothing). */
const ended = (viewer: RfbClient) =>
  Promise.race([viewer.nextUpdate().then(() => 'still open', (e: Error) => e.message), new Promise<string>((r) => setTimeout(() => r('still open after 10 s'), 10_000))]);

describe('roaming across agent replicas', () => {
  it('opening the desktop on another device through another replica ends the first device\'s stream with the sentence, and its reconnects are refused there', async () => {
    const token = await login(url(1), 'rosa', 'rosa-password');
    const started = await call(url(1), token, routes.sessions, { method: 'POST', body: JSON.stringify({ template: 'xfce' }) });
    const { id } = Session.parse(await started.json());
    await waitFor('Running', async () => (Session.parse(await (await call(url(1), token, routes.session(id))).json()).phase === 'Running' ? true : undefined), 60_000, 250);
    await desktops!.waitFor(id, 20_000);

    const onA = await open(url(1), token, id, { device: 'device-a', takeOver: true });
    const tool = await open(url(1), token, id);
    const aEnded = ended(onA);

    // The same person on device B, through the other replica (its token works there: keys are shared).
    const onB = await open(url(2), token, id, { device: 'device-b', takeOver: true });
    expect(await aEnded).toBe(`WebSocket closed ${OPENED_ELSEWHERE_CLOSE} ${OPENED_ELSEWHERE_MESSAGE}`);
    expect(onB.init).toMatchObject({ width: 1280, height: 800 });

    // B keeps its picture, and the tool (no device) on the first replica was left alone.
    for (const viewer of [onB, tool]) {
      viewer.requestUpdate(false);
      expect(await Promise.race([viewer.nextUpdate().then(() => 'update'), new Promise((r) => setTimeout(() => r('timeout'), 5_000))])).toBe('update');
    }

    // Back on A through the first replica: now B's stream on the second replica ends.
    const bEnded = ended(onB);
    const back = await open(url(1), token, id, { device: 'device-a', takeOver: true });
    expect(await bEnded).toBe(`WebSocket closed ${OPENED_ELSEWHERE_CLOSE} ${OPENED_ELSEWHERE_MESSAGE}`);

    // B's automatic reconnect (no takeover) through the second replica, which has no stream of A: it is
    // refused there too, once the first replica's report of A's stream is on the Session.
    const reconnectB = async () => {
      const res = await call(url(2), token, routes.connect(id), { method: 'POST', body: JSON.stringify({ device: 'device-b', takeOver: false }) });
      return { status: res.status, reason: ((await res.json()) as { error?: { reason?: string } }).error?.reason };
    };
    await expect.poll(reconnectB, { timeout: 10_000, interval: 250 }).toEqual({ status: 409, reason: 'opened_elsewhere' });
    // Once A has left, B may come back by itself.
    back.close();
    await expect.poll(reconnectB, { timeout: 10_000, interval: 250 }).toEqual({ status: 200, reason: undefined });
    tool.close();
  }, 120_000);
});
