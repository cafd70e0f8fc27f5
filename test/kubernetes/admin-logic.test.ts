/** The admin library's pure decisions (cluster-agent/admin/): what an apply would do, a finished rollout, CRD revisions, permissions. */
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { crdCheck } from '../../cluster-agent/admin/doctor.js';
import { actionOf, rolledOut } from '../../cluster-agent/admin/install.js';
import { describePermission, installPermissions } from '../../cluster-agent/admin/permissions.js';
import { CRD_REVISION, CRD_REVISION_ANNOTATION } from '../../cluster-agent/kubernetes/crds.js';
import { agentRules, installManifests } from '../../cluster-agent/kubernetes/install-manifests.js';

describe('admin decisions', () => {
  it('an apply creates what is missing, updates what differs, and leaves alone what only the server touched', () => {
    const stored = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', resourceVersion: '5', uid: 'u', managedFields: [{}] }, spec: { ports: [{ port: 80 }] }, status: { x: 1 } } as KubernetesObject;
    const same = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', resourceVersion: '6', managedFields: [{}, {}] }, spec: { ports: [{ port: 80 }] } } as KubernetesObject;
    const changed = { ...same, spec: { ports: [{ port: 81 }] } } as KubernetesObject;
    expect(actionOf(undefined, same)).toBe('create');
    expect(actionOf(stored, same)).toBe('unchanged');
    expect(actionOf(stored, changed)).toBe('update');
  });

  it('a rollout is done when the new generation is observed and every replica is updated and available', () => {
    const d = (status: V1Deployment['status'], generation = 2): V1Deployment => ({ metadata: { generation }, spec: { replicas: 2, selector: {}, template: {} }, status });
    expect(rolledOut(d({ observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 }))).toBe(true);
    expect(rolledOut(d({ observedGeneration: 1, updatedReplicas: 2, availableReplicas: 2 }))).toBe(false);
    expect(rolledOut(d({ observedGeneration: 2, updatedReplicas: 1, availableReplicas: 2 }))).toBe(false);
    expect(rolledOut(d({ observedGeneration: 2, updatedReplicas: 2, availableReplicas: 1 }))).toBe(false);
  });

  it('tells an older CRD (upgraded) from a newer one (refused)', () => {
    expect(crdCheck('x', undefined).level).toBe('ok');
    expect(crdCheck('x', { annotations: {} }).sentence).toMatch(/is older \(schema revision none\); install upgrades it/);
    expect(crdCheck('x', { annotations: { [CRD_REVISION_ANNOTATION]: String(CRD_REVISION) } }).sentence).toMatch(/is current/);
    const newer = crdCheck('x', { annotations: { [CRD_REVISION_ANNOTATION]: String(CRD_REVISION + 1) } });
    expect(newer).toMatchObject({ level: 'error', fix: expect.stringMatching(/would downgrade it/) });
  });

  it('asks for create, patch and get on every installed object, and for every permission the agent is granted', () => {
    const wanted = installPermissions(installManifests({ namespace: 'p' }) as KubernetesObject[], agentRules(), 'p').map(describePermission);
    expect(wanted).toContain('create customresourcedefinitions.apiextensions.k8s.io (cluster-wide)');
    expect(wanted).toContain('patch deployments.apps in namespace p');
    expect(wanted).toContain('create templates.porthole.dev in namespace p');
    expect(wanted).toContain('update leases.coordination.k8s.io named porthole-agent-reconciler in namespace p');
    expect(new Set(wanted).size).toBe(wanted.length);
  });
});
