/**
 * Templates that ask for a GPU, through a real agent on the real control plane: the pod asks for
 * nvidia.com/gpu and lands on the GPU node (a KWOK node with GPU capacity and the usual
 * nvidia.com/gpu taint); a GPU template without the toleration says why it cannot be placed.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes, Session } from '../../cluster-agent/contract/index.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { GROUP, TEMPLATE_PLURAL, VERSION, type TemplateCRSpec } from '../../cluster-agent/kubernetes/resources.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';

const CLI = 'cluster-agent/agent/cli.ts';
const kc = kubeConfigFrom(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const dir = tempDir('k8s-gpu');
let ns = '';
let agent: Started | undefined;
let agentUrl = '';
let token = '';

async function template(name: string, spec: Partial<TemplateCRSpec>): Promise<void> {
  const t = xfceTemplate(ns);
  t.metadata.name = name;
  t.spec = { ...t.spec, resources: { requests: { cpu: '10m', memory: '16Mi' } }, ...spec };
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: t });
}

async function start(templateName: string): Promise<string> {
  const res = await fetch(new URL(routes.sessions, agentUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ template: templateName }),
  });
  expect(res.status).toBe(202);
  return Session.parse(await res.json()).id;
}

const session = async (id: string) => Session.parse(await (await fetch(new URL(routes.session(id), agentUrl), { headers: { authorization: `Bearer ${token}` } })).json());

beforeAll(async () => {
  ns = await createNamespace(kc, 'k8s-gpu');
  await ensureCrds(kc);
  await template('cuda', { gpu: 1, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] });
  await template('cuda-untolerated', { gpu: 1 });
  const users = join(dir.path, 'users.yaml');
  expect((await runCli(CLI, ['users', 'add', 'gina', '--file', users, '--password-stdin'], 'gina-password')).code).toBe(0);
  agent = await startKubernetesAgent({ kubeconfig: inject('kubeconfig'), namespace: ns, users, dataDir: join(dir.path, 'data') });
  agentUrl = agent.match[1]!;
  token = await login(agentUrl, 'gina', 'gina-password');
});

afterAll(async () => {
  if (agent) await stopProcess(agent.child);
  await deleteNamespaces(kc, [ns]);
  dir.remove();
});

describe('GPU templates', () => {
  it('a GPU desktop asks for nvidia.com/gpu and runs on the GPU node', async () => {
    const id = await start('cuda');
    await waitFor('the GPU session Running', async () => {
      const s = await session(id);
      if (s.phase === 'Failed') throw new Error(`${s.reason}: ${s.message}`);
      return s.phase === 'Running' || undefined;
    }, 60_000);
    const pod = await core.readNamespacedPod({ namespace: ns, name: id });
    expect(pod.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect(pod.spec?.nodeName).toBe('kwok-gpu-node-0');
  });

  it('a GPU template that does not tolerate the GPU nodes taint says why it waits', async () => {
    const id = await start('cuda-untolerated');
    const waiting = await waitFor('the scheduler to explain', async () => {
      const s = await session(id);
      return s.phase === 'Pending' && /taint|nvidia\.com\/gpu/i.test(s.message ?? '') ? s : undefined;
    }, 60_000);
    expect(waiting.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    expect(waiting.message).toMatch(/untolerated taint/);
  });
});
