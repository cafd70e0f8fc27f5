/**
 * The whole Kubernetes path as a launcher walks it: sign in to a real agent (`serve --runtime kubernetes`),
 * POST /sessions, the reconciler makes the pod, KWOK runs it at a 127.X pod IP, the session turns Running,
 * a connect URL opens the agent's gateway, and the agent does VncAuth to podIP:5901 with the Secret's
 * password while the client sees security type None and the desktop's pixels.
 * The desktop behind the pod IP is the test-only stand-in for a container (test/support/pod-desktops.ts):
 * no container runtime can run here. Everything else is real.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConnectResponse, routes, Session } from '../../cluster-agent/contract/index.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { deleteNamespaces } from '../support/kube.js';
import { DESKTOP_COLOURS, namespaceWithPodDesktops, type PodDesktops } from '../support/pod-desktops.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';

const CLI = 'cluster-agent/agent/cli.ts';
const kc = kubeConfigFrom(inject('kubeconfig'));
const dir = tempDir('k8s-gateway');
let ns = '';
let desktops: PodDesktops | undefined;
let agent: Started | undefined;
let agentUrl = '';

beforeAll(async () => {
  ({ ns, desktops } = await namespaceWithPodDesktops(kc, 'k8s-gateway'));
  const users = join(dir.path, 'users.yaml');
  for (const u of ['alice', 'mallory']) expect((await runCli(CLI, ['users', 'add', u, '--file', users, '--password-stdin'], `${u}-password`)).code).toBe(0);
  agent = await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, 'data') });
  agentUrl = agent.match[1]!;
});

afterAll(async () => {
  if (agent) await stopProcess(agent.child);
  await desktops?.stop();
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

async function call(token: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, agentUrl), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
}

describe('a desktop on Kubernetes, through the agent', () => {
  it('API -> Session -> Pod Running -> VNC pixels via the gateway, and nobody else gets in', async () => {
    const alice = await login(agentUrl, 'alice', 'alice-password');
    const started = await call(alice, routes.sessions, { method: 'POST', body: JSON.stringify({ template: 'xfce' }) });
    expect(started.status).toBe(202);
    const { id } = Session.parse(await started.json());

    const seen = new Set<string>();
    const running = await waitFor('the session Running', async () => {
      const s = Session.parse(await (await call(alice, routes.session(id))).json());
      seen.add(s.phase);
      if (s.phase === 'Failed') throw new Error(`session failed: ${s.reason}: ${s.message}`);
      return s.phase === 'Running' ? s : undefined;
    }, 60_000, 100);
    expect(running.template).toBe('xfce');
    expect([...seen].every((p) => ['Pending', 'Starting', 'Running'].includes(p))).toBe(true);
    await desktops!.waitFor(id, 20_000);

    // Someone else cannot connect to it: the session does not exist for them.
    const mallory = await login(agentUrl, 'mallory', 'mallory-password');
    expect((await call(mallory, routes.connect(id), { method: 'POST' })).status).toBe(404);
    // Their own start of the same template comes with the typical start time, learnt from alice's.
    const theirs = Session.parse(await (await call(mallory, routes.sessions, { method: 'POST', body: JSON.stringify({ template: 'xfce' }) })).json());
    expect(theirs.id).not.toBe(id);
    expect(theirs.expectedStartSeconds).toBeGreaterThanOrEqual(0);
    expect(theirs.expectedStartSeconds).toBeLessThan(60);

    const connect = ConnectResponse.parse(await (await call(alice, routes.connect(id), { method: 'POST' })).json());
    const rfb = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
    try {
      // The agent answered the pod's VncAuth itself; the client was offered only None.
      expect(rfb.offeredSecurityTypes).toEqual([1]);
      expect([rfb.init.width, rfb.init.height]).toEqual([1280, 800]);
      rfb.requestUpdate(false);
      const update = await rfb.nextUpdate(true);
      const colours = new Set<number>();
      for (const r of update.rects) for (let i = 0; r.data && i + 3 < r.data.length; i += 4) colours.add(r.data.readUInt32LE(i) & 0xffffff);
      expect(colours).toEqual(new Set([DESKTOP_COLOURS.foreground, DESKTOP_COLOURS.background]));
    } finally {
      rfb.close();
    }
    // The connect URL was single-use.
    await expect(RfbClient.connect({ kind: 'ws', url: connect.vnc.url })).rejects.toThrow();

    // Ending it from the API removes the pod (and so the desktop); the home claim stays.
    expect((await call(alice, routes.session(id), { method: 'DELETE' })).status).toBeLessThan(300);
    await waitFor('the desktop gone with its pod', () => (desktops!.get(id) ? undefined : true), 30_000);
  });
});
