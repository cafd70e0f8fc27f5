/** The runtime conformance suite on the kubernetes runtime: a real control plane with KWOK nodes. */
import { CustomObjectsApi } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, inject } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { KubernetesRuntime, makeClients } from '../../cluster-agent/runtime/kubernetes/index.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { describeRuntimeConformance } from '../support/runtime-conformance.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const namespaces: string[] = [];
let runtime: KubernetesRuntime | undefined;
let users = 0;

afterAll(async () => {
  if (runtime) {
    for (const s of await runtime.list()) await runtime.stop(s.id).catch(() => undefined);
    await runtime.close();
  }
  await deleteNamespaces(kc, namespaces);
});

describeRuntimeConformance('kubernetes', async () => {
  if (!runtime) {
    await ensureCrds(kc);
    const ns = await createNamespace(kc, 'conformance');
    namespaces.push(ns);
    const t = xfceTemplate(ns);
    // KWOK nodes have room for anything; small requests keep the shared test cluster roomy.
    t.spec = { ...t.spec, resources: { requests: { cpu: '10m', memory: '16Mi' } } };
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: 'porthole.dev', version: 'v1alpha1', namespace: ns, plural: 'templates', body: t });
    runtime = new KubernetesRuntime({ clients: makeClients(kc), namespace: ns, logger: pino({ level: process.env.PORTHOLE_TEST_LOG ?? 'silent' }), startTimeoutMs: 120_000, leaseDurationMs: 4000 });
    await runtime.init();
  }
  return { runtime, template: 'xfce', user: () => `conf${users++}`, startTimeoutMs: 90_000 };
}, 200_000);
