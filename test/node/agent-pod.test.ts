/**
 * The agent as a pod from its own image, installed by the admin library as `porthole-agent install`
 * would: it runs on the real node as its ServiceAccount (in-cluster config: the `kubernetes` Service's
 * address and the token the kubelet mounts; no kubeconfig anywhere), its Service selects it, and a
 * person signs in through that Service and sees a session's desktop that this agent started. A WebRTC
 * template's pod runs the streamer beside the desktop, and Chromium on the node's network receives it.
 *
 * No kube-proxy runs here, so a Service's cluster IP routes nowhere: the test resolves the Service as a
 * proxy would, through its EndpointSlice, and relays into the node's network to that endpoint. The API
 * server reaches pods and the kubelet through konnectivity (build/node/up.sh), so the admin's
 * `porthole-agent verify` (its /readyz by the service proxy, a smoke-test session) runs for real here.
 */
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes, TemplateList } from '../../cluster-agent/contract/index.js';
import { install, waitForAgent } from '../../cluster-agent/admin/install.js';
import { AGENT_PORT, DEFAULT_AGENT_IMAGE, installObjects, toWire } from '../../cluster-agent/kubernetes/install-manifests.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { AGENT_NAME, GROUP, homeClaimName, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION, type TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { SMOKE_USER } from '../../cluster-agent/admin/verify.js';
import { login } from '../support/agent-api.js';
import { launchChromium } from '../support/browser.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { deleteNamespaces } from '../support/kube.js';
import { runCli, tempDir, waitFor } from '../support/processes.js';
import { containerPid, ON_REAL_NODE, onTheRealNode, processFacts, relayInto } from '../support/real-node.js';
import { installReceiver, receiverStats, type ReceiverStats } from '../support/webrtc-page.js';
import { agentCalls, desktopContainer, seeXfce, serviceEndpoint } from './support.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const node = inject('realNode');
const core = kc.makeApiClient(CoreV1Api);
const ns = `porthole-agent-pod-${process.pid}`;
const dir = tempDir('agent-pod');
let relay: Awaited<ReturnType<typeof relayInto>> | undefined;
let endpoint: { address: string; port: number; pod: string };
let alice = '';
let browser: BrowserContext | undefined;
const { call, startRunning, connect } = agentCalls(() => relay!.url);

/** The install objects `porthole-agent manifests` prints, one replica, agent and desktops pinned to the real node. */
function objectsForTheRealNode(): KubernetesObject[] {
  return installObjects({ namespace: ns, replicas: 1 }).map(({ type, object }) => {
    if (type === 'V1Deployment') Object.assign((object as V1Deployment).spec!.template.spec!, ON_REAL_NODE);
    if (type.endsWith('/Template')) onTheRealNode(object as TemplateResource);
    return toWire(type, object) as KubernetesObject;
  });
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
  endpoint = await serviceEndpoint(kc, ns, AGENT_NAME, 'http');
  relay = await relayInto(node.netns, endpoint.port, endpoint.address);
  alice = await login(relay.url, 'alice', 'alice-password');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

describe('the agent as a pod on the real node', () => {
  it('runs its image as its ServiceAccount, serves through its Service, and starts a session a person sees', async () => {
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

    expect((await fetch(new URL('/readyz', relay!.url))).status).toBe(200);
    // What an admin's `kubectl logs` shows: the API server reaches the node's kubelet through konnectivity.
    expect(await core.readNamespacedPodLog({ name: endpoint.pod, namespace: ns, container: 'agent' })).toContain(`listening on http://0.0.0.0:${AGENT_PORT}`);
    const session = await startRunning(alice);
    const desktop = await desktopContainer(core, ns, session.id);
    expect(desktop.nodeName).toBe(node.name);
    // The agent pod's gateway dials the desktop pod across the node's pod network.
    expect(await seeXfce((await connect(alice, session.id)).vnc.url)).toEqual({ width: 1280, height: 800 });

    expect((await call(alice, routes.session(session.id), { method: 'DELETE' })).status).toBeLessThan(300);
    await waitFor('the session pod gone', async () => ((await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/component=session' })).items.length === 0 ? true : undefined), 60_000, 500);
  });

  it('streams a WebRTC template from the streamer in its desktop pod to a viewer on the node\'s network', async () => {
    const template = onTheRealNode(xfceTemplate(ns), { protocols: ['webrtc', 'vnc'] });
    template.metadata.name = 'xfce-webrtc';
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: template });
    await waitFor('the agent to see the new template', async () => {
      const list = TemplateList.parse(await (await call(alice, routes.templates)).json());
      return list.templates.some((t) => t.name === 'xfce-webrtc') || undefined;
    }, 30_000, 250);
    const session = await startRunning(alice, 'xfce-webrtc');
    const pod = await core.readNamespacedPod({ name: session.id, namespace: ns });
    const streamer = pod.status?.containerStatuses?.find((c) => c.name === 'streamer');
    expect(streamer?.ready ?? streamer?.started).toBeTruthy();
    expect(processFacts(await containerPid(node, streamer!.containerID!)).uid).toEqual([1000, 1000, 1000, 1000]);

    // The viewer: Chromium inside the node's network (no pod address is reachable from anywhere else),
    // signalling through the agent pod's relay, media straight from the desktop pod's streamer.
    const agentOrigin = `http://${endpoint.address}:${endpoint.port}`;
    const url = new URL((await connect(alice, session.id)).webrtc.url);
    const direct = new URL(`${url.pathname}${url.search}`, agentOrigin.replace(/^http/, 'ws'));
    browser = await launchChromium(join(dir.path, 'chromium'), { netns: node.netns });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await installReceiver(page, agentOrigin);
    await page.evaluate(`window.receiver.start(${JSON.stringify(direct.toString())}, 'H264')`);
    let last: ReceiverStats | undefined;
    const seen = await waitFor('frames from the pod\'s streamer', async () => {
      last = await receiverStats(page);
      if (last.errors.length) throw new Error(`the page got ${JSON.stringify(last.errors)}`);
      return (last.framesDecoded ?? 0) >= 30 ? last : undefined;
    }, 60_000, 250).catch((e: Error) => {
      throw new Error(`${e.message}; the page saw ${JSON.stringify(last)}`);
    });
    expect(seen.codec).toBe('video/H264');
    expect([seen.width, seen.height]).toEqual([1280, 800]);
    // Straight to the pod's own address (its host candidate), no relay in between.
    expect(seen.path).toMatch(/->host$/);
    await page.evaluate('window.receiver.stop()');
    expect((await call(alice, routes.session(session.id), { method: 'DELETE' })).status).toBeLessThan(300);
  });

  it('passes `porthole-agent verify`: its /readyz through the Service by the API server, and a smoke-test session on the real node', async () => {
    const verified = await runCli('cluster-agent/agent/cli.ts', ['verify', '--namespace', ns, '--kubeconfig', inject('kubeconfig'), '--template', 'xfce', '--wait', '120'], undefined, { timeoutMs: 180_000 });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ {2}✓ the agent answers through its Service: .*ok.* \([\d.]+ s\)$/m);
    expect(verified.stdout).toMatch(/^ {2}✓ a smoke-test session of xfce reached Running, and was removed \([\d.]+ s\)$/m);
    // Nothing of it stays: no Session, no pod, no home volume of the smoke-test user.
    const custom = kc.makeApiClient(CustomObjectsApi);
    await waitFor('the smoke-test session and its home gone', async () => {
      const sessions = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: SESSION_PLURAL })) as { items: Array<{ metadata: { name: string } }> };
      const claims = await core.listNamespacedPersistentVolumeClaim({ namespace: ns });
      return !sessions.items.some((x) => x.metadata.name.startsWith('porthole-smoke-')) && !claims.items.some((c) => c.metadata?.name === homeClaimName(SMOKE_USER)) ? true : undefined;
    }, 60_000, 500);
  });
});
