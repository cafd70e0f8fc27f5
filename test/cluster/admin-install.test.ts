/**
 * The admin steps (`porthole-agent doctor|install|verify|uninstall`, cluster-agent/admin/) on the real control
 * plane, through the command an admin runs: a fresh namespace -> doctor passes -> install applies every
 * object and waits for the agent's Deployment to be Available (KWOK nodes run its pods) -> verify says
 * that no agent answers through the Service (KWOK's pods only look Available) -> a second
 * install's plan says every object is unchanged -> an upgrade to another image changes only the
 * Deployment -> uninstall removes the install but keeps the home volumes and the CRDs. A kubeconfig for
 * a ServiceAccount with only some permissions: doctor names exactly what is missing, and install
 * refuses before touching anything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { AGENT_NAME, LABELS } from '../../cluster-agent/kubernetes/resources.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, refusal, uniqueName } from '../support/kube.js';
import { runCli, tempDir } from '../support/processes.js';

const AGENT = 'cluster-agent/agent/cli.ts';
const kubeconfig = inject('kubeconfig');
const admin = kubeConfigFrom(kubeconfig);
const ns = uniqueName('admin');
const dir = tempDir('admin');
const cleanup: string[] = [ns];

afterAll(async () => {
  await deleteNamespaces(admin, cleanup);
  dir.remove();
});

const cli = (args: string[]) => runCli(AGENT, [...args, '--kubeconfig', kubeconfig], undefined, { timeoutMs: 240_000 });

describe('porthole-agent doctor, install, uninstall', () => {
  it('installs into a fresh namespace, waits for the agent, plans nothing the second time, upgrades the image only, and uninstalls keeping homes', async () => {
    const doctor = await cli(['doctor', '--namespace', ns]);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/^doctor: https:\/\/127\.0\.0\.1:\d+ \(Kubernetes v1\.\d+/m);
    expect(doctor.stdout).toMatch(/✓ this kubeconfig may do all \d+ things the install and the agent need/);
    expect(doctor.stdout).toMatch(new RegExp(`✓ namespace ${ns} does not exist yet; install creates it enforcing the restricted Pod Security Standard`));

    const first = await cli(['install', '--namespace', ns, '--image', 'registry.example/porthole-agent:1', '--wait', '120']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const applied = first.stdout.split('\n').filter((l) => /^ {2}\[\d+\/\d+\]/.test(l));
    expect(applied).toHaveLength(12);
    expect(applied[0]).toBe(`  [1/12] created Namespace/${ns}`);
    expect(applied).toContain(`  [7/12] created Deployment/${AGENT_NAME} in ${ns}`);
    expect(first.stdout).toMatch(/waiting for the agent: \d of 2 replicas available \(\d+ s, at most 120 s\)/);
    expect(first.stdout).toMatch(new RegExp(`install: done in [\\d.]+ s; the agent is available in namespace ${ns}`));
    const apps = admin.makeApiClient(AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({ name: AGENT_NAME, namespace: ns });
    expect(deployment.status?.availableReplicas).toBe(2);

    // verify is not fooled by pods that only look Available: KWOK's run no agent, so nothing answers
    // /readyz through the Service, and no smoke-test session is tried.
    const verified = await cli(['verify', '--namespace', ns, '--wait', '30']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(1);
    expect(verified.stdout).toMatch(new RegExp(`^ {2}✗ the agent does not answer /readyz through its Service ${ns}/${AGENT_NAME} \\(.+\\) \\([\\d.]+ s\\)$`, 'm'));
    expect(verified.stdout).not.toMatch(/smoke-test/);

    const again = await cli(['install', '--namespace', ns, '--image', 'registry.example/porthole-agent:1', '--dry-run']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/plan \(server-side dry run, nothing changed\): 0 of 12 objects would change/);
    expect(again.stdout.split('\n').filter((l) => /^ {2}(create|update|unchanged) /.test(l)).every((l) => l.startsWith('  unchanged '))).toBe(true);

    const upgrade = await cli(['install', '--namespace', ns, '--image', 'registry.example/porthole-agent:2', '--dry-run']);
    expect(upgrade.stdout.split('\n').filter((l) => /^ {2}update /.test(l))).toEqual([`  update    Deployment/${AGENT_NAME} in ${ns}`]);
    const upgraded = await cli(['install', '--namespace', ns, '--image', 'registry.example/porthole-agent:2', '--wait', '120']);
    expect(upgraded.code, upgraded.stdout + upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain(`  [7/12] updated Deployment/${AGENT_NAME} in ${ns}`);
    expect(upgraded.stdout).toContain(`  [2/12] unchanged CustomResourceDefinition/sessions.porthole.dev`);
    expect((await apps.readNamespacedDeployment({ name: AGENT_NAME, namespace: ns })).spec?.template.spec?.containers[0]?.image).toBe('registry.example/porthole-agent:2');

    // A person's home, as the agent makes them: uninstall must keep it.
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'home-ann', labels: { [LABELS.partOf]: 'porthole' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    const gone = await cli(['uninstall', '--namespace', ns]);
    expect(gone.code, gone.stdout + gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`uninstall: 12 objects from namespace ${ns}; keeping the home volumes and the CRDs (other installs may use them)`);
    expect(gone.stdout).toContain(`  deleted Deployment/${AGENT_NAME} in ${ns}`);
    expect(gone.stdout).toContain('  kept CustomResourceDefinition/sessions.porthole.dev');
    expect((await refusal(() => apps.readNamespacedDeployment({ name: AGENT_NAME, namespace: ns }))).code).toBe(404);
    expect((await core.readNamespacedPersistentVolumeClaim({ name: 'home-ann', namespace: ns })).metadata?.name).toBe('home-ann');
  }, 300_000);

  it('with only some permissions, doctor names exactly the missing ones, and install refuses before touching anything', async () => {
    const own = await createNamespace(admin, 'admin-limited');
    cleanup.push(own);
    const target = uniqueName('admin-target');
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: own, body: { metadata: { name: 'installer' } } });
    // Allowed: reading the namespace list and creating namespaces, nothing else.
    await rbac.createClusterRole({ body: { metadata: { name: `${own}-installer` }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'create', 'patch'] }] } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: `${own}-installer` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${own}-installer` }, subjects: [{ kind: 'ServiceAccount', name: 'installer', namespace: own }] },
    });
    try {
      const { status } = await core.createNamespacedServiceAccountToken({ namespace: own, name: 'installer', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
      const cluster = admin.getCurrentCluster()!;
      const limited = new KubeConfig();
      limited.loadFromOptions({
        clusters: [{ name: 'test', server: cluster.server, caFile: cluster.caFile, caData: cluster.caData, skipTLSVerify: false }],
        users: [{ name: 'installer', token: status!.token }],
        contexts: [{ name: 'installer', cluster: 'test', user: 'installer' }],
        currentContext: 'installer',
      });
      const file = join(dir.path, 'limited.kubeconfig');
      writeFileSync(file, limited.exportConfig());

      const doctor = await runCli(AGENT, ['doctor', '--namespace', target, '--kubeconfig', file]);
      expect(doctor.code).toBe(1);
      const line = doctor.stdout.split('\n').find((l) => l.includes('✗ this kubeconfig may not:'))!;
      expect(line).toBeDefined();
      expect(line).toContain('create customresourcedefinitions.apiextensions.k8s.io (cluster-wide)');
      expect(line).toContain(`create deployments.apps in namespace ${target}`);
      expect(line).toContain(`create roles.rbac.authorization.k8s.io in namespace ${target}`);
      expect(line).toContain(`update leases.coordination.k8s.io named porthole-agent-reconciler in namespace ${target}`);
      // What it may do is not named.
      expect(line).not.toMatch(/create namespaces|get namespaces/);
      expect(doctor.stdout).toMatch(/fix: install as a cluster administrator, or grant these/);

      const install = await runCli(AGENT, ['install', '--namespace', target, '--kubeconfig', file]);
      expect(install.code).toBe(1);
      expect(install.stdout).toMatch(/install: refused before changing anything; fix what doctor says first/);
      expect((await refusal(() => core.readNamespace({ name: target }))).code).toBe(404);
    } finally {
      await rbac.deleteClusterRoleBinding({ name: `${own}-installer` }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: `${own}-installer` }).catch(() => undefined);
    }
  }, 120_000);

  it('says which context it cannot find, and which API server does not answer', async () => {
    const noContext = await runCli(AGENT, ['doctor', '--kubeconfig', kubeconfig, '--context', 'nope']);
    expect(noContext.code).toBe(1);
    expect(noContext.stderr).toMatch(/^porthole-agent: the kubeconfig has no context "nope" \(it has: /);
    const down = join(dir.path, 'down.kubeconfig');
    writeFileSync(down, ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]', 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: x, context: {cluster: c, user: u}}]', 'current-context: x', ''].join('\n'));
    const unreachable = await runCli(AGENT, ['doctor', '--kubeconfig', down]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toMatch(/✗ the API server at https:\/\/127\.0\.0\.1:1 does not answer \(.+\)\n {6}fix: check the kubeconfig and context/);
  });
});
