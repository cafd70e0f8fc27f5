/**
 * Enrolled devices on the kubernetes runtime live in the Secret porthole-agent-devices, which every
 * replica reads: `devices enroll|list|revoke --runtime kubernetes` on the real API server, two enrolments
 * at once (both kept: an update that lost the race reads again), only hashes of the codes stored.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEVICES_SECRET } from '../../cluster-agent/state/kubernetes/device-secret.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, deleteNamespaces } from '../support/kube.js';
import { runCli } from '../support/processes.js';

const kubeconfig = inject('kubeconfig');
const kc = kubeConfigFrom(kubeconfig);
let ns: string;
const devices = (args: string[]) => runCli('cluster-agent/agent/cli.ts', ['devices', ...args, '--runtime', 'kubernetes', '--kubeconfig', kubeconfig, '--namespace', ns]);

beforeAll(async () => {
  ns = await createNamespace(kc, 'devices');
});

afterAll(async () => {
  await deleteNamespaces(kc, [ns]);
});

describe('enrolled devices in a Secret', () => {
  it('keeps codes made at once by two admins (hashes only), lists them as waiting, and says so when asked to revoke a device nobody enrolled', async () => {
    const [a, b] = await Promise.all([devices(['enroll', '--name', 'hall-1']), devices(['enroll', '--name', 'hall-2'])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stderr).toContain(`(Secret ${ns}/${DEVICES_SECRET})`);
    const listed = await devices(['list']);
    expect(listed.stdout).toMatch(/^\(code\) {2}hall-1 {2}waiting until /m);
    expect(listed.stdout).toMatch(/^\(code\) {2}hall-2 {2}waiting until /m);
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: DEVICES_SECRET, namespace: ns });
    // Only hashes of the codes are kept.
    const stored = Buffer.from(secret.data!['devices.json']!, 'base64').toString('utf8');
    expect(stored).not.toContain(a.stdout.trim());
    expect(stored).not.toContain(a.stdout.trim().replaceAll('-', ''));
    expect((await devices(['revoke', 'hall-1'])).stderr).toMatch(/No enrolled device has the id or name "hall-1"/);
  });
});
