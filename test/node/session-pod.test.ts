/**
 * A session's desktop as a real container on a real kubelet node: the agent (in the node's network
 * namespace, as an agent in a cluster would be, reached through a relay) starts a session of a Template
 * on the project's desktop image; the pod runs under restricted Pod Security and the kernel enforces what
 * its spec says; the gateway reaches the pod IP and the client sees XFCE's pixels; the home volume keeps
 * what the desktop wrote for the next session.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { DEFAULT_DESKTOP_IMAGE, xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { GROUP, TEMPLATE_PLURAL, VERSION } from '../../cluster-agent/kubernetes/resources.js';
import { HOME_MOUNT } from '../../cluster-agent/kubernetes/session-objects.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';
import { containerPid, execIn, onTheRealNode, processFacts, relayInto } from '../support/real-node.js';
import { agentCalls, desktopContainer, seeXfce } from './support.js';

const CLI = 'cluster-agent/agent/cli.ts';
const kc = kubeConfigFrom(inject('kubeconfig'));
const node = inject('realNode');
const core = kc.makeApiClient(CoreV1Api);
const dir = tempDir('real-node');
let ns = '';
let agent: Started | undefined;
let relay: Awaited<ReturnType<typeof relayInto>> | undefined;
const { call, startRunning, connect } = agentCalls(() => relay!.url);

beforeAll(async () => {
  ns = await createNamespace(kc, 'real-node', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' });
  await ensureCrds(kc);
  const template = onTheRealNode(xfceTemplate(ns));
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: template });
  const users = join(dir.path, 'users.yaml');
  expect((await runCli(CLI, ['users', 'add', 'alice', '--file', users, '--password-stdin'], 'alice-password')).code).toBe(0);
  agent = await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, 'data'), netns: node.netns });
  relay = await relayInto(node.netns, Number(new URL(agent.match[1]!).port));
});

afterAll(async () => {
  await relay?.close();
  if (agent) await stopProcess(agent.child);
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

describe('a session pod on a real kubelet node', () => {
  it('runs the project image as its spec says, shows XFCE through the gateway, and keeps the home for the next session', async () => {
    expect(xfceTemplate(ns).spec.image).toBe(DEFAULT_DESKTOP_IMAGE);
    const alice = await login(relay!.url, 'alice', 'alice-password');
    const first = await startRunning(alice);
    const c = await desktopContainer(core, ns, first.id);
    expect(c.nodeName).toBe(node.name);
    expect(c.podIP).toMatch(/^10\.244\.0\.\d+$/);

    // What the kernel enforces on the desktop's process, read from the node, not from the API.
    const facts = processFacts(await containerPid(node, c.containerId));
    expect(facts.uid).toEqual([1000, 1000, 1000, 1000]);
    expect(facts.capEff).toBe(0n);
    expect(facts.noNewPrivs).toBe(true);
    expect(facts.seccomp).toBe(2);
    expect(facts.rootReadOnly).toBe(true);
    expect(facts.memoryLimitBytes).toBe(1024 * 1024 * 1024);
    expect(facts.cpuQuotaUs / facts.cpuPeriodUs).toBe(1);
    await expect(execIn(node, c.containerId, ['touch', '/usr/porthole-test'])).rejects.toThrow(/Read-only file system/);

    // Pixels: the agent's gateway dials podIP:5901 inside the node's network and does the VncAuth itself.
    expect(await seeXfce((await connect(alice, first.id)).vnc.url)).toEqual({ width: 1280, height: 800 });

    // The home volume: written by the desktop as uid 1000, and there again in the next session.
    await execIn(node, c.containerId, ['sh', '-c', `echo kept-by-porthole > ${HOME_MOUNT}/porthole-test.txt`]);
    expect((await call(alice, routes.session(first.id), { method: 'DELETE' })).status).toBeLessThan(300);
    await waitFor('the first pod gone', async () => ((await core.listNamespacedPod({ namespace: ns })).items.length === 0 ? true : undefined), 60_000, 500);
    const second = await startRunning(alice);
    const c2 = await desktopContainer(core, ns, second.id);
    expect(c2.containerId).not.toBe(c.containerId);
    expect(await execIn(node, c2.containerId, ['cat', `${HOME_MOUNT}/porthole-test.txt`])).toBe('kept-by-porthole\n');
  });
});
