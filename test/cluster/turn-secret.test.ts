/**
 * The TURN shared secret kept in a Secret (`serve --turn-secret-name`, what the install manifests pass
 * the agent): on a real API server, the first start creates it (32 random bytes, immutable), every other
 * replica and every restart reads the same value, replicas starting at once agree, coturn's pod template
 * is admitted under `restricted`, and a Secret coturn could not use stops the agent with a sentence.
 */
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installObjects } from '../../cluster-agent/kubernetes/install-manifests.js';
import { TURN_SECRET_NAME, turnUrls } from '../../cluster-agent/kubernetes/turn-manifests.js';
import { makeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { loadOrCreateTurnSecret, turnSecret } from '../../cluster-agent/runtime/kubernetes/turn-secret.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { stopProcess, tempDir, type Started } from '../support/processes.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const kubeconfig = inject('kubeconfig');
const core = kc.makeApiClient(CoreV1Api);
const clients = makeClients(kc);
const turn = { externalHost: 'turn.porthole.test', podCidrs: ['10.244.0.0/16'] };
const namespaces: string[] = [];
const processes: Started[] = [];
const dir = tempDir('turn-secret');

beforeAll(async () => {
  await ensureCrds(kc);
});

afterAll(async () => {
  for (const p of processes.splice(0)) await stopProcess(p.child, 'SIGKILL');
  await deleteNamespaces(kc, namespaces);
  dir.remove();
});

async function namespace(labels: Record<string, string> = {}): Promise<string> {
  const ns = await createNamespace(kc, 'turn-secret', labels);
  namespaces.push(ns);
  return ns;
}

const stored = async (ns: string) => {
  const s = await core.readNamespacedSecret({ name: TURN_SECRET_NAME, namespace: ns });
  return { value: Buffer.from(s.data!.secret!, 'base64').toString('utf8'), immutable: s.immutable };
};

describe('the TURN secret in the cluster', () => {
  it('is made once, immutable, and every replica starting at once gets the same one', async () => {
    const ns = await namespace();
    const values = await Promise.all([1, 2, 3].map(() => loadOrCreateTurnSecret(clients, ns, TURN_SECRET_NAME)));
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(await stored(ns)).toEqual({ value: values[0], immutable: true });
    expect(await loadOrCreateTurnSecret(clients, ns, TURN_SECRET_NAME)).toBe(values[0]);
  });

  it('keeps one an admin made first, and refuses one coturn could not carry, saying how to fix it', async () => {
    const ns = await namespace();
    await core.createNamespacedSecret({ namespace: ns, body: turnSecret(ns, TURN_SECRET_NAME, 'chosen-by-the-admin-0123456789\n') });
    expect(await loadOrCreateTurnSecret(clients, ns, TURN_SECRET_NAME)).toBe('chosen-by-the-admin-0123456789');
    await core.createNamespacedSecret({ namespace: ns, body: turnSecret(ns, 'bad-turn', 'has a space in it, and more') });
    await expect(loadOrCreateTurnSecret(clients, ns, 'bad-turn')).rejects.toThrow(/needs key "secret" of at least 16 letters, digits or \+\/=_.- .*delete it and the agent makes one/);
  });

  it('a real agent started as the manifests start it creates it, and a second start reads it', async () => {
    const ns = await namespace();
    const users = join(dir.path, `users-${ns}.yaml`);
    writeFileSync(users, 'users: []\n');
    const serveArgs = [...turnUrls(turn).flatMap((u) => ['--turn', u]), '--turn-secret-name', TURN_SECRET_NAME];
    const first = await startKubernetesAgent({ kubeconfig, namespace: ns, users, dataDir: join(dir.path, `a-${ns}`), serveArgs });
    processes.push(first);
    const made = await stored(ns);
    expect(made.value).toMatch(/^[0-9a-f]{64}$/);
    await stopProcess(first.child);
    const second = await startKubernetesAgent({ kubeconfig, namespace: ns, users, dataDir: join(dir.path, `b-${ns}`), serveArgs });
    processes.push(second);
    expect(await stored(ns)).toEqual(made);
    // Nothing of the secret on the agent's output.
    expect([...first.output, ...second.output].join('\n')).not.toContain(made.value);
  }, 120_000);

  it("admits coturn's pod under the restricted Pod Security Standard", async () => {
    const ns = await namespace({ 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
    const objects = installObjects({ namespace: ns, turn });
    const sa = objects.filter((o) => o.type === 'V1ServiceAccount').map((o) => o.object as { metadata: { name: string } }).find((o) => o.metadata.name === 'porthole-turn')!;
    await core.createNamespacedServiceAccount({ namespace: ns, body: sa });
    const dep = objects.filter((o) => o.type === 'V1Deployment').map((o) => o.object as { metadata: { name: string }; spec: { template: V1Pod } }).find((o) => o.metadata.name === 'porthole-turn')!;
    const pod = await core.createNamespacedPod({ namespace: ns, body: { metadata: { ...dep.spec.template.metadata, name: 'turn-from-template' }, spec: dep.spec.template.spec } });
    expect(pod.spec?.containers[0]?.securityContext?.capabilities?.add).toEqual(['NET_BIND_SERVICE']);
  });
});
