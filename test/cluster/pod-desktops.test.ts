/**
 * The stand-in for the session pod's container (test/support/pod-desktops.ts, test-only: KWOK runs no
 * containers) against the real control plane: a session's Session, Secret, PVC and Pod made by the
 * builders, KWOK gives the pod a 127.X pod IP, and the way the agent reaches a desktop (dial podIP:5901,
 * VncAuth with the Secret's password) shows a drawn screen. Deleting the pod ends the desktop.
 */
import { connect } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { VNC_PORT } from '../../cluster-agent/kubernetes/resources.js';
import { buildHomeClaim, buildSessionPod, buildVncSecret, SECRET_PASSWORD_KEY } from '../../cluster-agent/kubernetes/session-objects.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, createSessionResource, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { DESKTOP_COLOURS, PodDesktops } from '../support/pod-desktops.js';
import { waitFor } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const podNet = inject('podNet');
const core = kc.makeApiClient(CoreV1Api);
let ns = '';
let desktops: PodDesktops | undefined;

beforeAll(async () => {
  ns = await createNamespace(kc, 'pod-desktops', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  await ensureCrds(kc);
  desktops = await PodDesktops.start(kc, ns);
});

afterAll(async () => {
  await desktops?.stop();
  await deleteNamespaces(kc, [ns]);
});

/** Resolves with the connect error code, or "connected". */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('session pods reached the way the agent reaches them (stand-in container: Xvnc on the pod IP)', () => {
  it("a session's pod gets a loopback pod IP and shows a drawn desktop on podIP:5901 with the Secret's password", async () => {
    const user = 'erin';
    const session = await createSessionResource(kc, ns, user, 'xfce');
    const template = xfceTemplate(ns);
    template.spec.resources = { requests: { cpu: '10m', memory: '16Mi' } };
    const password = `pw-${Math.random().toString(36).slice(2, 10)}`;
    await core.createNamespacedSecret({ namespace: ns, body: buildVncSecret(session, ns, password, 'a-streamer-secret') });
    await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: buildHomeClaim(user, ns) });
    const pod = await core.createNamespacedPod({ namespace: ns, body: buildSessionPod({ session, template, namespace: ns }) });
    const name = pod.metadata!.name!;

    // KWOK marks the pod Running when its watch catches up: a wait, not a speed check.
    const running = await waitFor(
      'the pod Running with a pod IP',
      async () => {
        const p = await core.readNamespacedPod({ namespace: ns, name });
        return p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
      },
      50_000,
      250,
    );
    const ip = running.status!.podIP!;
    expect(ip).toMatch(new RegExp(`^127\\.${podNet}\\.\\d+\\.\\d+$`));
    const desktop = await desktops!.waitFor(name, 20_000);
    expect(desktop).toMatchObject({ ip, port: VNC_PORT });

    // The agent's path: the password from the Secret it created, VncAuth, podIP:5901.
    const secret = await core.readNamespacedSecret({ namespace: ns, name: `${name}-vnc` });
    const fromSecret = Buffer.from(secret.data![SECRET_PASSWORD_KEY]!, 'base64').toString('utf8');
    const rfb = await RfbClient.connect({ kind: 'tcp', host: ip, port: VNC_PORT }, fromSecret);
    try {
      expect(rfb.offeredSecurityTypes).toEqual([2]);
      expect(rfb.init.name).toContain(name);
      expect([rfb.init.width, rfb.init.height]).toEqual([1280, 800]);
      rfb.requestUpdate(false);
      const update = await rfb.nextUpdate(true);
      const colours = new Set<number>();
      for (const r of update.rects) for (let i = 0; r.data && i + 3 < r.data.length; i += 4) colours.add(r.data.readUInt32LE(i) & 0xffffff);
      // Not a flat (blank) screen: the stand-in's pattern, both colours.
      expect([...colours].sort()).toEqual([DESKTOP_COLOURS.foreground, DESKTOP_COLOURS.background].sort());
    } finally {
      rfb.close();
    }

    await expect(RfbClient.connect({ kind: 'tcp', host: ip, port: VNC_PORT }, 'wrong-password')).rejects.toThrow(/authentication failed/i);
    // Bound to the pod IP only: the same port on another address of 127/8 is closed.
    expect(await tryConnect(`127.${podNet}.250.250`, VNC_PORT)).toBe('ECONNREFUSED');

    // Deleting the pod ends its desktop.
    await core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 });
    await waitFor('the stand-in desktop stopped', async () => (desktops!.get(name) === undefined && (await tryConnect(ip, VNC_PORT)) === 'ECONNREFUSED') || undefined, 30_000);
  });
});
