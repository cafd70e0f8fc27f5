/**
 * `porthole-agent manifests` against the real API server: what the command prints applies cleanly with
 * server-side apply (first as a dry run, then for real), a broken object is refused, and the install
 * leaves the agent's Deployment, Service, NetworkPolicies, PodDisruptionBudget and Template in place.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api, PolicyV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_DESKTOP_IMAGE } from '../../cluster-agent/kubernetes/default-templates.js';
import { AGENT_NAME, GROUP, LABELS, TEMPLATE_PLURAL, VERSION } from '../../cluster-agent/kubernetes/resources.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { apiError, deleteNamespaces, ensureCrds, refusal, ServerSideApply, uniqueName } from '../support/kube.js';
import { runCli, waitFor } from '../support/processes.js';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; uid?: string };
  [key: string]: unknown;
}

const kc = kubeConfigFrom(inject('kubeconfig'));
const ssa = ServerSideApply.for(kc);
const ns = uniqueName('manifests');
const IMAGE = 'registry.example/porthole-agent:test';
let docs: Doc[] = [];

const id = (d: Doc) => `${d.kind}/${d.metadata.name}`;

beforeAll(async () => {
  // The command an admin runs, not the function behind it.
  const out = await runCli('cluster-agent/agent/cli.ts', ['manifests', '--namespace', ns, '--image', IMAGE]);
  expect(out.code, out.stderr).toBe(0);
  docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Doc);
  // Objects in a namespace need it to exist, and the Template needs its CRD, even for a dry run.
  for (const d of docs.filter((x) => x.kind === 'Namespace')) await ssa.apply(d);
  await ensureCrds(kc);
});

afterAll(async () => {
  await deleteNamespaces(kc, [ns]);
});

describe('porthole-agent manifests on a real API server', () => {
  it('prints the whole install, every object into the chosen namespace', () => {
    expect(docs.map(id)).toEqual([
      `Namespace/${ns}`,
      'CustomResourceDefinition/sessions.porthole.dev',
      'CustomResourceDefinition/templates.porthole.dev',
      `ServiceAccount/${AGENT_NAME}`,
      `Role/${AGENT_NAME}`,
      `RoleBinding/${AGENT_NAME}`,
      `Deployment/${AGENT_NAME}`,
      `Service/${AGENT_NAME}`,
      'NetworkPolicy/porthole-sessions-deny-ingress',
      'NetworkPolicy/porthole-sessions-vnc-from-agent',
      `PodDisruptionBudget/${AGENT_NAME}`,
      'Template/xfce',
    ]);
    for (const d of docs.filter((x) => !['Namespace', 'CustomResourceDefinition'].includes(x.kind))) expect(d.metadata.namespace, id(d)).toBe(ns);
  });

  it('applies cleanly as a server-side dry run, and the dry run creates nothing', async () => {
    for (const d of docs) {
      const result = await ssa.apply(d, { dryRun: true }).catch((e: unknown) => {
        const { code, message } = apiError(e);
        throw new Error(`${id(d)} refused by the API server (${code}): ${message}`);
      });
      expect(`${result.kind}/${result.metadata?.name}`).toBe(id(d));
    }
    // The server defaulted and validated the Deployment (dry run returns what it would store)...
    const deployment = (await ssa.apply(docs.find((d) => d.kind === 'Deployment')!, { dryRun: true })) as { spec?: { revisionHistoryLimit?: number } };
    expect(deployment.spec?.revisionHistoryLimit).toBe(10);
    // ...but stored nothing.
    const apps = kc.makeApiClient(AppsV1Api);
    expect((await refusal(() => apps.readNamespacedDeployment({ name: AGENT_NAME, namespace: ns }))).code).toBe(404);
    const custom = kc.makeApiClient(CustomObjectsApi);
    expect((await refusal(() => custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, name: 'xfce' }))).code).toBe(404);
  });

  it('refuses a broken object, with the reason (so a clean apply above means something)', async () => {
    const template = structuredClone(docs.find((d) => d.kind === 'Template')!) as Doc & { spec: Record<string, unknown> };
    delete template.spec.image;
    template.spec.idleTimeoutSeconds = -5;
    const noImage = await refusal(() => ssa.apply(template, { dryRun: true }));
    expect(noImage.code).toBe(422);
    expect(noImage.message).toMatch(/spec\.image: Required value/);
    expect(noImage.message).toMatch(/spec\.idleTimeoutSeconds: Invalid value: -5/);

    const deployment = structuredClone(docs.find((d) => d.kind === 'Deployment')!) as Doc & { spec: { selector: { matchLabels: Record<string, string> } } };
    deployment.spec.selector.matchLabels = { [LABELS.name]: 'something-else' };
    const badSelector = await refusal(() => ssa.apply(deployment, { dryRun: true }));
    expect(badSelector.code).toBe(422);
    expect(badSelector.message).toMatch(/`selector` does not match template `labels`/);
  });

  it('applied for real, installs the agent; applying again changes nothing', async () => {
    for (const d of docs) await ssa.apply(d);

    const apps = kc.makeApiClient(AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({ name: AGENT_NAME, namespace: ns });
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe(AGENT_NAME);
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(IMAGE);
    const service = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: AGENT_NAME, namespace: ns });
    expect(service.spec?.ports?.map((p) => [p.port, p.targetPort])).toEqual([[80, 'http']]);
    const policies = await kc.makeApiClient(NetworkingV1Api).listNamespacedNetworkPolicy({ namespace: ns });
    expect(policies.items.map((p) => p.metadata?.name).sort()).toEqual(['porthole-sessions-deny-ingress', 'porthole-sessions-vnc-from-agent']);
    const vnc = policies.items.find((p) => p.metadata?.name === 'porthole-sessions-vnc-from-agent')!;
    // `from` survived the trip (a typed-model mix-up would have dropped it and opened nothing).
    expect(vnc.spec?.ingress?.[0]?._from?.[0]?.podSelector?.matchLabels).toEqual({ [LABELS.name]: AGENT_NAME });
    expect(vnc.spec?.ingress?.[0]?.ports?.[0]?.port).toBe(5901);
    const pdb = await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: AGENT_NAME, namespace: ns });
    expect(pdb.spec?.minAvailable).toBe(1);
    const role = await kc.makeApiClient(RbacAuthorizationV1Api).readNamespacedRole({ name: AGENT_NAME, namespace: ns });
    expect(role.rules?.length).toBeGreaterThan(0);
    const template = (await kc
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, name: 'xfce' })) as { spec: { image: string } };
    expect(template.spec.image).toBe(DEFAULT_DESKTOP_IMAGE);

    // The namespace enforces the restricted Pod Security Standard and still admits the agent's pods.
    await waitFor(
      "the Deployment's two agent pods",
      async () => ((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.name}=${AGENT_NAME}` })).items.length === 2 ? true : undefined),
      30_000,
    );

    // Server-side apply of the same manifests again: no spec changes anywhere (generation stays 1).
    for (const d of docs) {
      const again = await ssa.apply(d);
      if (again.metadata?.generation !== undefined) expect(again.metadata.generation, id(d)).toBe(1);
    }
  });
});
