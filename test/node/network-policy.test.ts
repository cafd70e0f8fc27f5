/**
 * No desktop reaches what is not its own, enforced by the node (kube-router's firewall, build/node/up.sh)
 * from the NetworkPolicies `porthole-agent manifests` installs: a desktop pod's VNC and streamer ports
 * answer the agent's pods only, not another desktop and not any other pod. Without the policies the same
 * connections go through, so it is the policies that close them.
 *
 * The pods are small Node.js processes from the agent image (one listens on the desktop's ports, the
 * others dial it), labelled as the agent, a desktop or nothing; each dial runs inside its pod.
 */
import { CoreV1Api, NetworkingV1Api, type V1NetworkPolicy, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_AGENT_IMAGE, installObjects } from '../../cluster-agent/kubernetes/install-manifests.js';
import { AGENT_NAME, DESKTOP_NAME, LABELS, STREAMER_PORT, VNC_PORT } from '../../cluster-agent/kubernetes/resources.js';
import { restrictedContainerSecurity } from '../../cluster-agent/kubernetes/session-objects.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, deleteNamespaces } from '../support/kube.js';
import { waitFor } from '../support/processes.js';
import { execIn, ON_REAL_NODE } from '../support/real-node.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const node = inject('realNode');
const core = kc.makeApiClient(CoreV1Api);
const net = kc.makeApiClient(NetworkingV1Api);
let ns = '';
const pods: Record<string, { ip: string; containerId: string }> = {};

const sessionLabels = { [LABELS.name]: DESKTOP_NAME, [LABELS.component]: 'session' };

function pod(name: string, labels: Record<string, string>, script: string): V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      ...ON_REAL_NODE,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'c', image: DEFAULT_AGENT_IMAGE, command: ['node', '-e', script], securityContext: restrictedContainerSecurity() }],
    },
  };
}

const LISTEN = `for (const p of [${VNC_PORT}, ${STREAMER_PORT}]) require('net').createServer((s) => s.end('porthole\\n')).listen(p)`;
const IDLE = 'setInterval(() => {}, 1e6)';

/** From inside pod `from`: does a TCP connection to the desktop's port open (and answer) within 2 s? */
async function reaches(from: string, port: number): Promise<boolean> {
  const script = `const s = require('net').connect(${port}, ${JSON.stringify(pods.desktop!.ip)}); s.setTimeout(2000, () => { console.log('timeout'); process.exit(0); }); s.on('data', () => { console.log('open'); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const out = (await execIn(node, pods[from]!.containerId, ['node', '-e', script])).trim();
  return out === 'open';
}

beforeAll(async () => {
  ns = await createNamespace(kc, 'netpol', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  const wanted = [
    pod('desktop', sessionLabels, LISTEN),
    pod('agent', { [LABELS.name]: AGENT_NAME }, IDLE),
    pod('other-desktop', sessionLabels, IDLE),
    pod('stranger', {}, IDLE),
  ];
  for (const p of wanted) await core.createNamespacedPod({ namespace: ns, body: p });
  for (const p of wanted) {
    const name = p.metadata!.name!;
    pods[name] = await waitFor(`pod ${name} Ready`, async () => {
      const got = await core.readNamespacedPod({ name, namespace: ns });
      const ready = got.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const id = got.status?.containerStatuses?.[0]?.containerID;
      return ready && got.status?.podIP && id ? { ip: got.status.podIP, containerId: id } : undefined;
    }, 60_000, 250);
  }
}, 120_000);

afterAll(async () => {
  await deleteNamespaces(kc, [ns]);
});

describe('NetworkPolicy on the real node', () => {
  it('lets only the agent reach a desktop\'s VNC and streamer ports, once the install\'s policies are there', async () => {
    // Without policies: every pod reaches the desktop (the control: the dials below can succeed).
    for (const from of ['agent', 'other-desktop', 'stranger']) expect(await reaches(from, VNC_PORT), `${from} before the policies`).toBe(true);

    const policies = installObjects({ namespace: ns }).filter((o) => o.type === 'V1NetworkPolicy').map((o) => o.object as V1NetworkPolicy);
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const p of policies) await net.createNamespacedNetworkPolicy({ namespace: ns, body: { ...p, metadata: { ...p.metadata, namespace: ns } } });

    await waitFor('the stranger shut out', async () => ((await reaches('stranger', VNC_PORT)) ? undefined : true), 30_000, 500);
    for (const port of [VNC_PORT, STREAMER_PORT]) {
      expect(await reaches('agent', port), `the agent to ${port}`).toBe(true);
      expect(await reaches('other-desktop', port), `another desktop to ${port}`).toBe(false);
      expect(await reaches('stranger', port), `another pod to ${port}`).toBe(false);
    }
  });
});
