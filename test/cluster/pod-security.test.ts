/**
 * The restricted Pod Security Standard, enforced by the real API server's PodSecurity admission in a
 * namespace labelled pod-security.kubernetes.io/enforce=restricted: what the builders make for a session
 * (pod, VNC Secret, home PVC), a warm-pool pod and the agent's own pod are admitted; weakened copies are
 * refused with PodSecurity's reasons, which shows the admission really runs.
 */
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { installObjects } from '../../cluster-agent/kubernetes/install-manifests.js';
import { GROUP, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildHomeClaim, buildSessionPod, buildVncSecret, buildWarmPod } from '../../cluster-agent/kubernetes/session-objects.js';
import { kubeConfigFrom } from '../support/cluster.js';
import { createNamespace, createSessionResource, deleteNamespaces, ensureCrds, refusal } from '../support/kube.js';

const kc = kubeConfigFrom(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
let ns = '';
let session: SessionResource;
let template: TemplateResource;

beforeAll(async () => {
  ns = await createNamespace(kc, 'pod-security', {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
  });
  await ensureCrds(kc);
  // Real Session and Template objects, so the owner references carry real uids.
  const user = 'alice';
  session = await createSessionResource(kc, ns, user, 'xfce');
  template = (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: TEMPLATE_PLURAL, body: xfceTemplate(ns) })) as TemplateResource;
});

afterAll(async () => {
  await deleteNamespaces(kc, [ns]);
});

const sessionPod = () => buildSessionPod({ session, template, namespace: ns });

describe('restricted Pod Security Standard on a real API server', () => {
  it("admits a session's pod, its VNC Secret and its home PVC, owned as designed", async () => {
    const pod = await core.createNamespacedPod({ namespace: ns, body: sessionPod() });
    expect(pod.metadata?.uid).toBeTruthy();
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Session', uid: session.metadata.uid, controller: true });
    const secret = await core.createNamespacedSecret({ namespace: ns, body: buildVncSecret(session, ns, 'a-vnc-password', 'a-streamer-secret') });
    expect(secret.metadata?.ownerReferences?.[0]?.uid).toBe(session.metadata.uid);
    const pvc = await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: buildHomeClaim('alice', ns) });
    expect(pvc.metadata?.ownerReferences ?? []).toEqual([]);
  });

  it('admits the pod of a WebRTC template, with its streamer container', async () => {
    const rtc: TemplateResource = { ...template, spec: { ...template.spec, protocols: ['webrtc', 'vnc'] } };
    const body = buildSessionPod({ session, template: rtc, namespace: ns });
    body.metadata!.name = 'webrtc-session-pod';
    const pod = await core.createNamespacedPod({ namespace: ns, body });
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['desktop', 'streamer']);
  });

  it('admits a warm-pool pod', async () => {
    const pod = await core.createNamespacedPod({ namespace: ns, body: buildWarmPod(template, ns, 'xfce-warm-1') });
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Template', uid: template.metadata.uid });
  });

  it("admits the agent Deployment's pod", async () => {
    const install = installObjects({ namespace: ns });
    // The pod runs as the agent's ServiceAccount, which must exist for the pod to be admitted at all.
    await core.createNamespacedServiceAccount({ namespace: ns, body: install.find((o) => o.type === 'V1ServiceAccount')!.object });
    const deployment = install.find((o) => o.type === 'V1Deployment')!.object as { spec: { template: V1Pod } };
    const pod: V1Pod = { metadata: { ...deployment.spec.template.metadata, name: 'agent-from-template' }, spec: deployment.spec.template.spec };
    const created = await core.createNamespacedPod({ namespace: ns, body: pod });
    expect(created.metadata?.uid).toBeTruthy();
  });

  const weakened: [string, RegExp, (p: V1Pod) => void][] = [
    [
      'no seccomp profile',
      /seccompProfile \(pod or container "desktop" must set securityContext\.seccompProfile\.type/,
      (p) => {
        delete p.spec!.securityContext!.seccompProfile;
        delete p.spec!.containers[0]!.securityContext!.seccompProfile;
      },
    ],
    [
      'root allowed',
      /runAsNonRoot != true/,
      (p) => {
        p.spec!.securityContext!.runAsNonRoot = false;
        p.spec!.containers[0]!.securityContext!.runAsNonRoot = false;
      },
    ],
    ['a capability added', /unrestricted capabilities \(container "desktop" must not include "NET_ADMIN"/, (p) => void (p.spec!.containers[0]!.securityContext!.capabilities!.add = ['NET_ADMIN'])],
    ['privilege escalation allowed', /allowPrivilegeEscalation != false/, (p) => void (p.spec!.containers[0]!.securityContext!.allowPrivilegeEscalation = true)],
  ];

  it.each(weakened)('refuses a session pod with %s, saying why', async (what, reason, weaken) => {
    const pod = sessionPod();
    pod.metadata!.name = `weak-${what.replaceAll(' ', '-')}`;
    weaken(pod);
    const refused = await refusal(() => core.createNamespacedPod({ namespace: ns, body: pod }));
    expect(refused.code).toBe(403);
    expect(refused.message).toContain(`pods "${pod.metadata!.name}" is forbidden: violates PodSecurity "restricted:latest"`);
    expect(refused.message).toMatch(reason);
  });
});
