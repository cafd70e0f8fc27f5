/**
 * The shipped RBAC is enough for the agent and no more, shown with the agent's own identity: a token
 * minted for its ServiceAccount (TokenRequest API) after the manifests are installed. Every verb of
 * every rule in agentRules() is exercised by a real call that must succeed; what the agent must never
 * do is refused with 403. Finally the real agent process runs on that token and starts a desktop.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  PatchStrategy,
  V1MicroTime,
  Watch,
  type V1Lease,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routes, Session } from '../../cluster-agent/contract/index.js';
import { agentRules, installManifests, LEADER_LEASE_NAME } from '../../cluster-agent/kubernetes/install-manifests.js';
import { AGENT_NAME, GROUP, SESSION_PLURAL, sessionName, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildHomeClaim, buildSession, buildSessionPod, buildVncSecret } from '../../cluster-agent/kubernetes/session-objects.js';
import { takeoverAnnotation } from '../../cluster-agent/runtime/kubernetes/takeovers.js';
import { refreshSecretName, userKey } from '../../cluster-agent/state/kubernetes/refresh-token-secrets.js';
import { login } from '../support/agent-api.js';
import { kubeConfigFrom, startKubernetesAgent } from '../support/cluster.js';
import { createNamespace, deleteNamespaces, ensureCrds, rawRequest, refusal, ServerSideApply, uniqueName } from '../support/kube.js';
import { runCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';

const admin = kubeConfigFrom(inject('kubeconfig'));
const ns = uniqueName('rbac');
let otherNs = '';
let agent: KubeConfig;
let agentProcess: Started | undefined;
const dir = tempDir('rbac');

/** A KubeConfig that is the agent: the admin's API server address and CA, the ServiceAccount's bearer token. */
function agentKubeConfig(token: string): KubeConfig {
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: cluster.server, caFile: cluster.caFile, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: AGENT_NAME, token }],
    contexts: [{ name: AGENT_NAME, cluster: 'test', user: AGENT_NAME, namespace: ns }],
    currentContext: AGENT_NAME,
  });
  return kc;
}

beforeAll(async () => {
  const ssa = ServerSideApply.for(admin);
  await ensureCrds(admin);
  for (const object of installManifests({ namespace: ns })) await ssa.apply(object);
  otherNs = await createNamespace(admin, 'rbac-other');
  const { status } = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace: ns,
    name: AGENT_NAME,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  agent = agentKubeConfig(status!.token);
});

afterAll(async () => {
  if (agentProcess) await stopProcess(agentProcess.child);
  await deleteNamespaces(admin, [ns, otherNs].filter(Boolean));
  dir.remove();
});

/** Opens a watch as the agent and resolves with its first event (existing objects arrive as ADDED). */
function firstWatchEvent(kc: KubeConfig, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    let seen: string | undefined;
    new Watch(kc)
      .watch(
        path,
        {},
        (type, obj: { metadata?: { name?: string } }) => {
          seen ??= `${type} ${obj.metadata?.name}`;
          resolve(seen);
          controller?.abort();
        },
        (err: unknown) => (err && !seen ? reject(err instanceof Error ? err : new Error(String(err))) : undefined),
      )
      .then((c) => {
        controller = c;
        if (seen) c.abort();
      }, reject);
  });
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('the shipped RBAC, used with the agent ServiceAccount token', () => {
  it('is the agent: the token authenticates as the ServiceAccount', async () => {
    const review = await agent.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:${AGENT_NAME}`);
  });

  it('allows every verb of every rule in agentRules(), each shown by a real call', async () => {
    const core = agent.makeApiClient(CoreV1Api);
    const custom = agent.makeApiClient(CustomObjectsApi);
    const leases = agent.makeApiClient(CoordinationV1Api);
    const cr = (plural: string) => ({ group: GROUP, version: VERSION, namespace: ns, plural });
    const user = 'rbac-user';
    const name = sessionName(user, 'xfce');
    let session: SessionResource | undefined;
    let template: TemplateResource | undefined;

    // group|resource|verb -> the call the runtime makes for it, in an order where each has what it needs.
    const steps: [string, () => Promise<unknown>][] = [
      ['coordination.k8s.io|leases|create', () => leases.createNamespacedLease({ namespace: ns, body: { metadata: { name: LEADER_LEASE_NAME }, spec: { holderIdentity: 'rbac-test', leaseDurationSeconds: 15 } } })],
      [
        'coordination.k8s.io|leases|update',
        async () => {
          const lease: V1Lease = await leases.readNamespacedLease({ name: LEADER_LEASE_NAME, namespace: ns });
          // Hand it back, as a stopping leader does, so the real agent below need not wait for it to expire.
          lease.spec!.renewTime = new V1MicroTime();
          delete lease.spec!.holderIdentity;
          return leases.replaceNamespacedLease({ name: LEADER_LEASE_NAME, namespace: ns, body: lease });
        },
      ],
      ['coordination.k8s.io|leases|get', () => leases.readNamespacedLease({ name: LEADER_LEASE_NAME, namespace: ns })],
      [
        'porthole.dev|templates|list',
        async () => (template = ((await custom.listNamespacedCustomObject(cr(TEMPLATE_PLURAL))) as { items: TemplateResource[] }).items.find((t) => t.metadata.name === 'xfce')),
      ],
      ['porthole.dev|templates|watch', async () => expect(await firstWatchEvent(agent, `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${TEMPLATE_PLURAL}`)).toBe('ADDED xfce')],
      ['porthole.dev|sessions|create', async () => (session = (await custom.createNamespacedCustomObject({ ...cr(SESSION_PLURAL), body: buildSession(name, ns, user, 'xfce') })) as SessionResource)],
      ['porthole.dev|sessions|get', () => custom.getNamespacedCustomObject({ ...cr(SESSION_PLURAL), name })],
      ['porthole.dev|sessions|list', () => custom.listNamespacedCustomObject(cr(SESSION_PLURAL))],
      ['porthole.dev|sessions|watch', async () => expect(await firstWatchEvent(agent, `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${SESSION_PLURAL}`)).toBe(`ADDED ${name}`)],
      ['porthole.dev|sessions|patch', () => custom.patchNamespacedCustomObject({ ...cr(SESSION_PLURAL), name, body: { metadata: { annotations: takeoverAnnotation('rbac-test', new Date(), 'rbac-test') } } }, mergePatch)],
      ['porthole.dev|sessions/status|patch', () => custom.patchNamespacedCustomObjectStatus({ ...cr(SESSION_PLURAL), name, body: { status: { phase: 'Pending', message: 'rbac test' } } }, mergePatch)],
      ['|secrets|create', () => core.createNamespacedSecret({ namespace: ns, body: buildVncSecret(session!, ns, 'pw', 'streamer-pw') })],
      ['|secrets|get', () => core.readNamespacedSecret({ namespace: ns, name: `${name}-vnc` })],
      [
        '|secrets|update',
        async () => {
          // A refresh-token Secret is replaced with the resourceVersion it was read at.
          const created = await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: refreshSecretName(userKey(user)) }, stringData: { 'tokens.json': '{}' } } });
          return core.replaceNamespacedSecret({ namespace: ns, name: created.metadata!.name!, body: { metadata: { name: created.metadata!.name!, resourceVersion: created.metadata!.resourceVersion! }, stringData: { 'tokens.json': '{"version":1}' } } });
        },
      ],
      ['|persistentvolumeclaims|create', () => core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: buildHomeClaim(user, ns) })],
      ['|pods|create', () => core.createNamespacedPod({ namespace: ns, body: buildSessionPod({ session: session!, template: template!, namespace: ns }) })],
      ['|pods|list', () => core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/component=session' })],
      ['|pods|watch', async () => expect(await firstWatchEvent(agent, `/api/v1/namespaces/${ns}/pods?labelSelector=porthole.dev%2Fsession`)).toBe(`ADDED ${name}`)],
      ['|pods|patch', () => core.patchNamespacedPod({ namespace: ns, name, body: { metadata: { labels: { 'porthole.dev/rbac-test': 'patched' } } } }, mergePatch)],
      [
        '|events|create',
        () =>
          core.createNamespacedEvent({
            namespace: ns,
            body: {
              metadata: { name: `${name}.rbac`, namespace: ns },
              involvedObject: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Session', name, namespace: ns, uid: session!.metadata.uid },
              reason: 'Testing',
              message: 'rbac test',
              type: 'Normal',
              count: 1,
            },
          }),
      ],
      ['|pods|delete', () => core.deleteNamespacedPod({ namespace: ns, name })],
      ['porthole.dev|sessions|delete', () => custom.deleteNamespacedCustomObject({ ...cr(SESSION_PLURAL), name })],
    ];

    // The test follows the Role: a verb added to agentRules() without a call here fails, and so does a
    // call here for a verb the Role does not grant.
    const granted = agentRules().flatMap((r) => r.resources!.flatMap((res) => r.verbs.map((v) => `${r.apiGroups![0]}|${res}|${v}`)));
    expect([...new Set(steps.map(([k]) => k))].sort()).toEqual([...new Set(granted)].sort());

    for (const [what, call] of steps) {
      await call().catch((e: unknown) => {
        throw new Error(`the agent may not ${what}: ${e instanceof Error ? e.message.split('\n').slice(0, 3).join(' ') : String(e)}`);
      });
    }
  });

  it('refuses with 403 what the agent must never do', async () => {
    const core = agent.makeApiClient(CoreV1Api);
    const custom = agent.makeApiClient(CustomObjectsApi);
    const leases = agent.makeApiClient(CoordinationV1Api);
    const rbac = agent.makeApiClient(RbacAuthorizationV1Api);
    const tpl = { group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, name: 'xfce' };
    // A pod to aim pods/exec at, made by the admin.
    const target = await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: ns, body: { metadata: { name: 'exec-target' }, spec: { containers: [{ name: 'c', image: 'x', securityContext: { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } } }] } } });

    const forbidden: [string, () => Promise<unknown>][] = [
      ['list pods in another namespace', () => core.listNamespacedPod({ namespace: otherNs })],
      ['create a secret in another namespace', () => core.createNamespacedSecret({ namespace: otherNs, body: { metadata: { name: 'x' }, stringData: { a: 'b' } } })],
      ['list pods in all namespaces', () => core.listPodForAllNamespaces()],
      ['list nodes', () => core.listNode()],
      ['list namespaces', () => core.listNamespace()],
      ['list ClusterRoles', () => rbac.listClusterRole()],
      ['list secrets (read every password)', () => core.listNamespacedSecret({ namespace: ns })],
      ['delete a secret', () => core.deleteNamespacedSecret({ namespace: ns, name: `${sessionName('rbac-user', 'xfce')}-vnc` })],
      ['update a Template', async () => custom.replaceNamespacedCustomObject({ ...tpl, body: await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject(tpl) })],
      ['patch a Template', () => custom.patchNamespacedCustomObject({ ...tpl, body: { spec: { image: 'evil' } } }, mergePatch)],
      ['delete a home PVC', () => core.deleteNamespacedPersistentVolumeClaim({ namespace: ns, name: buildHomeClaim('rbac-user', ns).metadata!.name! })],
      ['get a Lease with another name', () => leases.readNamespacedLease({ namespace: ns, name: 'someone-elses-lease' })],
      ['update its own Role', () => rbac.patchNamespacedRole({ namespace: ns, name: AGENT_NAME, body: { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } }, mergePatch)],
      [
        'bind itself to ClusterRole admin',
        () =>
          rbac.createNamespacedRoleBinding({
            namespace: ns,
            body: { metadata: { name: 'escalate' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: ns }] },
          }),
      ],
    ];
    for (const [what, call] of forbidden) {
      const refused = await refusal(call).catch(() => {
        throw new Error(`the agent was allowed to ${what}`);
      });
      expect(refused.code, what).toBe(403);
      expect(refused.message, what).toContain(`User "system:serviceaccount:${ns}:${AGENT_NAME}" cannot`);
    }

    // pods/exec: a shell in a desktop would bypass the VNC password; the typed clients have no call for it.
    const exec = await rawRequest(agent, 'POST', `/api/v1/namespaces/${ns}/pods/${target.metadata!.name}/exec?command=sh&stdout=true`);
    expect(exec.status).toBe(403);
    expect((JSON.parse(exec.body) as { message: string }).message).toContain(`User "system:serviceaccount:${ns}:${AGENT_NAME}" cannot create resource "pods/exec"`);
  });

  it('is enough for the real agent: `serve --runtime kubernetes` on the token starts a desktop', async () => {
    const kubeconfig = join(dir.path, 'agent-kubeconfig.json');
    writeFileSync(kubeconfig, agent.exportConfig(), { mode: 0o600 });
    const users = join(dir.path, 'users.yaml');
    expect((await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'dana', '--file', users, '--password-stdin'], 'dana-pw')).code).toBe(0);
    agentProcess = await startKubernetesAgent({ kubeconfig, namespace: ns, users, dataDir: join(dir.path, 'data'), timeoutMs: 45_000 });
    const url = agentProcess.match[1]!;
    const token = await login(url, 'dana', 'dana-pw');
    const auth = { authorization: `Bearer ${token}` };
    const started = await fetch(new URL(routes.sessions, url), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ template: 'xfce' }) });
    expect(started.status).toBe(202);
    const id = Session.parse(await started.json()).id;
    // KWOK marks the pod Running when its watch catches up; this waits for that, it is no speed check.
    const running = await waitFor(
      'the session Running',
      async () => {
        const s = Session.parse(await (await fetch(new URL(routes.session(id), url), { headers: auth })).json());
        return s.phase === 'Running' ? s : undefined;
      },
      50_000,
      250,
    );
    expect(running.phase).toBe('Running');
    const ended = await fetch(new URL(routes.session(id), url), { method: 'DELETE', headers: auth });
    expect(ended.ok).toBe(true);
    // Nothing the agent did was refused (a missing verb shows up in its log as "forbidden").
    expect(agentProcess.output.filter((l) => /forbidden/i.test(l))).toEqual([]);
  });
});
