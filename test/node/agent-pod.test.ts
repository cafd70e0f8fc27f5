/**
 * The agent as a pod from its own image, installed by the admin library as `porthole-agent install`
 * would: it runs on the real node as its ServiceAccount (in-cluster config: the `kubernetes` Service's
 * address and the token the kubelet mounts; no kubeconfig anywhere), its Service selects it, and a
 * person signs in through that Service and sees a session's desktop that this agent started.
 *
 * No kube-proxy runs here, so a Service's cluster IP routes nowhere: the test resolves the Service as a
 * proxy would, through its EndpointSlice, and relays into the node's network to that endpoint.
 */
import { CoreV1Api, DiscoveryV1Api, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { install, waitForAgent } from '../../cluster-agent/admin/install.js';
import type { TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { AGENT_PORT, DEFAULT_AGENT_IMAGE, installObjects, toWire } from '../../cluster-agent/kubernetes/install-manifests.js';
import { AGENT_NAME } from '../../cluster-agent/kubernetes/resources.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { deleteNamespaces } from '../support/kube.js';
import { runCli, tempDir, waitFor } from '../support/processes.js';
import { containerPid, processFacts, relayInto } from '../support/real-node.js';
import { agentCalls, desktopContainer, seeXfce } from './support.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const node = inject('realNode');
const core = kc.makeApiClient(CoreV1Api);
const ns = `porthole-agent-pod-${process.pid}`;
const dir = tempDir('agent-pod');
let relay: Awaited<ReturnType<typeof relayInto>> | undefined;
const { call, startRunning, connect } = agentCalls(() => relay!.url);

const onRealNode = {
  nodeSelector: { 'porthole.dev/node': 'real' },
  tolerations: [{ key: 'porthole.dev/node', operator: 'Equal', value: 'real', effect: 'NoSchedule' }],
};

/** The install objects `porthole-agent manifests` prints, one replica, agent and desktops pinned to the real node. */
function objectsForTheRealNode(): KubernetesObject[] {
  return installObjects({ namespace: ns, replicas: 1 }).map(({ type, object }) => {
    if (type === 'V1Deployment') Object.assign((object as V1Deployment).spec!.template.spec!, onRealNode);
    if (type.endsWith('/Template')) {
      const t = object as TemplateResource;
      Object.assign(t.spec, onRealNode, { resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } } });
    }
    return toWire(type, object) as KubernetesObject;
  });
}

/** The Service's ready endpoint, as kube-proxy would pick it: from the EndpointSlice the control plane keeps. */
async function serviceEndpoint(service: string, portName: string): Promise<{ address: string; port: number; pod: string }> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  return waitFor(`a ready endpoint of Service ${service}`, async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` });
    for (const slice of slices.items) {
      const port = slice.ports?.find((p) => p.name === portName)?.port;
      const ready = slice.endpoints.find((e) => e.conditions?.ready);
      if (port && ready?.addresses[0] && ready.targetRef?.name) return { address: ready.addresses[0], port, pod: ready.targetRef.name };
    }
    return undefined;
  }, 60_000, 500);
}

beforeAll(async () => {
  const objects = objectsForTheRealNode();
  // The namespace first, then the users Secret the Deployment mounts (the admin's step), then the rest.
  await install(kc, objects.filter((o) => o.kind === 'Namespace'));
  const users = join(dir.path, 'users.yaml');
  expect((await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'alice', '--file', users, '--password-stdin'], 'alice-password')).code).toBe(0);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'porthole-users' }, stringData: { 'users.yaml': readFileSync(users, 'utf8') } } });
  await install(kc, objects);
  await waitForAgent(kc, ns, AGENT_NAME, 150_000);
}, 240_000);

afterAll(async () => {
  await relay?.close();
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

describe('the agent as a pod on the real node', () => {
  it('runs its image as its ServiceAccount, serves through its Service, and starts a session a person sees', async () => {
    const endpoint = await serviceEndpoint(AGENT_NAME, 'http');
    expect(endpoint.port).toBe(AGENT_PORT);
    const pod = await core.readNamespacedPod({ name: endpoint.pod, namespace: ns });
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.status?.podIP).toMatch(/^10\.244\.0\.\d+$/);
    const agent = pod.status?.containerStatuses?.find((c) => c.name === 'agent');
    expect(agent?.image).toBe(DEFAULT_AGENT_IMAGE);
    // Its API credentials are the ServiceAccount's token, mounted by the kubelet: nothing else is given to it.
    expect(pod.spec?.serviceAccountName).toBe(AGENT_NAME);
    expect(pod.spec?.containers[0]?.args).not.toContain('--kubeconfig');
    const facts = processFacts(await containerPid(node, agent!.containerID!));
    expect(facts.uid).toEqual([65532, 65532, 65532, 65532]);
    expect(facts.capEff).toBe(0n);
    expect(facts.rootReadOnly).toBe(true);

    relay = await relayInto(node.netns, endpoint.port, endpoint.address);
    expect((await fetch(new URL('/readyz', relay.url))).status).toBe(200);
    const alice = await login(relay.url, 'alice', 'alice-password');
    const session = await startRunning(alice);
    const desktop = await desktopContainer(core, ns, session.id);
    expect(desktop.nodeName).toBe(node.name);
    // The agent pod's gateway dials the desktop pod across the node's pod network.
    expect(await seeXfce((await connect(alice, session.id)).vnc.url)).toEqual({ width: 1280, height: 800 });

    expect((await call(alice, routes.session(session.id), { method: 'DELETE' })).status).toBeLessThan(300);
    await waitFor('the session pod gone', async () => ((await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/component=session' })).items.length === 0 ? true : undefined), 60_000, 500);
  });
});
