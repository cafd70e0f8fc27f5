import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCommand } from '../../cluster-agent/agent/args.js';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { agentRules, renderManifestsYaml } from '../../cluster-agent/kubernetes/install-manifests.js';
import { sessionName } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession, buildSessionPod, buildWarmPod } from '../../cluster-agent/kubernetes/session-objects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML is walked freely in assertions
type Obj = Record<string, any>;

function docs(opts: { namespace?: string; image?: string } = {}): Obj[] {
  return parseAllDocuments(renderManifestsYaml(opts)).map((d) => d.toJS() as Obj).filter(Boolean);
}
const find = (all: Obj[], kind: string, name?: string) => all.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

/** Structural schema: every node says its type (or is int-or-string), recursively. */
function untypedPaths(schema: Obj, path = '$'): string[] {
  const out: string[] = [];
  if (!schema.type && !schema['x-kubernetes-int-or-string']) out.push(path);
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push(...untypedPaths(v as Obj, `${path}.${k}`));
  if (schema.items) out.push(...untypedPaths(schema.items, `${path}[]`));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...untypedPaths(schema.additionalProperties, `${path}{}`));
  return out;
}

describe('porthole-agent manifests', () => {
  it('has every object, in an order kubectl can apply', () => {
    const all = docs();
    expect(all.map((o) => o.kind)).toEqual([
      'Namespace', 'CustomResourceDefinition', 'CustomResourceDefinition', 'ServiceAccount', 'Role', 'RoleBinding',
      'Deployment', 'Service', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'Template',
    ]);
    for (const o of all.filter((x) => !['Namespace', 'CustomResourceDefinition'].includes(x.kind))) expect(o.metadata.namespace).toBe('porthole');
  });

  it('honours --namespace and --image', () => {
    const all = docs({ namespace: 'vdi', image: 'registry.example/agent:1' });
    expect(find(all, 'Namespace')[0]!.metadata.name).toBe('vdi');
    const dep = find(all, 'Deployment')[0]!;
    expect(dep.metadata.namespace).toBe('vdi');
    expect(dep.spec.template.spec.containers[0].image).toBe('registry.example/agent:1');
    expect(dep.spec.template.spec.containers[0].args).toContain('vdi');
    expect(find(all, 'RoleBinding')[0]!.subjects[0].namespace).toBe('vdi');
    expect(parseCommand(['manifests', '--namespace', 'vdi', '--image', 'x:1'])).toEqual({ kind: 'manifests', namespace: 'vdi', image: 'x:1' });
    expect(() => parseCommand(['manifests', '--namespace', 'Bad_NS'])).toThrow(/namespace name/);
  });

  it('the namespace enforces the restricted Pod Security Standard', () => {
    expect(find(docs(), 'Namespace')[0]!.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('CRDs are namespaced v1alpha1 with structural schemas, Session status subresource and printer columns', () => {
    const all = docs();
    const session = find(all, 'CustomResourceDefinition', 'sessions.porthole.dev')[0]!;
    const template = find(all, 'CustomResourceDefinition', 'templates.porthole.dev')[0]!;
    for (const crd of [session, template]) {
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.versions).toHaveLength(1);
      expect(crd.spec.versions[0].name).toBe('v1alpha1');
      expect(untypedPaths(crd.spec.versions[0].schema.openAPIV3Schema)).toEqual([]);
    }
    const sv = session.spec.versions[0];
    expect(sv.subresources).toEqual({ status: {} });
    expect(sv.additionalPrinterColumns.filter((c: Obj) => !c.priority).map((c: Obj) => c.name)).toEqual(['User', 'Template', 'Phase', 'Age']);
    expect(Object.keys(sv.schema.openAPIV3Schema.properties.status.properties).sort()).toEqual(
      ['conditions', 'connectedClients', 'lastActiveAt', 'message', 'phase', 'phaseSince', 'podIP', 'podName', 'reason', 'startedAt', 'viewers'].sort(),
    );
    expect(sv.schema.openAPIV3Schema.properties.status.properties.phase.enum).toContain('Failed');
    const tv = template.spec.versions[0];
    expect(tv.subresources).toBeUndefined();
    expect(tv.additionalPrinterColumns.map((c: Obj) => c.name)).toEqual(['Image', 'GPU', 'Idle', 'Age']);
    expect(Object.keys(tv.schema.openAPIV3Schema.properties.spec.properties).sort()).toEqual(
      ['allowedGroups', 'allowedUsers', 'description', 'displayName', 'gpu', 'idleTimeoutSeconds', 'image', 'nodeSelector', 'podAnnotations', 'podLabels', 'protocols', 'resources', 'streamerImage', 'tolerations', 'warmPool'].sort(),
    );
    // no model names leaked into the wire form
    expect(renderManifestsYaml()).not.toMatch(/_enum|x_kubernetes|_from:/);
  });

  it('RBAC is one namespaced Role: no wildcards, no ClusterRole, no delete of homes or secrets', () => {
    const all = docs();
    expect(find(all, 'ClusterRole')).toEqual([]);
    expect(find(all, 'ClusterRoleBinding')).toEqual([]);
    const rules = find(all, 'Role')[0]!.rules as Obj[];
    expect(rules).toEqual(JSON.parse(JSON.stringify(agentRules())));
    for (const r of rules) {
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('*');
    }
    const verbs = (res: string) => rules.filter((r) => r.resources.includes(res)).flatMap((r) => r.verbs);
    expect(verbs('persistentvolumeclaims')).not.toContain('delete');
    expect(verbs('secrets')).not.toContain('list');
    expect(verbs('secrets')).toEqual(['get', 'create', 'update']);
    expect(verbs('templates')).toEqual(['list', 'watch']);
    expect(verbs('leases')).toEqual(['create', 'get', 'update']);
  });

  it('the Deployment runs 2 restricted replicas of `serve --runtime kubernetes` with probes', () => {
    const dep = find(docs(), 'Deployment')[0]!;
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(c.args.slice(0, 5)).toEqual(['serve', '--runtime', 'kubernetes', '--listen', '0.0.0.0:8080']);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.serviceAccountName).toBe('porthole-agent');
  });

  it('NetworkPolicies deny ingress to session pods except 5901 from agent pods; PDB keeps one agent', () => {
    const all = docs();
    const [deny, allow] = find(all, 'NetworkPolicy');
    expect(deny!.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'porthole-desktop', 'app.kubernetes.io/component': 'session' } }, policyTypes: ['Ingress'] });
    expect(allow!.spec.podSelector).toEqual(deny!.spec.podSelector);
    // Both policies cover a session's pod and a warm-pool pod (no session label yet, VNC already up),
    // even when the template tries to relabel its pods; the agent's own pods are not covered.
    const t = xfceTemplate('porthole');
    t.metadata.uid = 'tuid';
    t.spec.podLabels = { 'app.kubernetes.io/name': 'other', 'app.kubernetes.io/component': 'other' };
    const s = buildSession(sessionName('alice', 'xfce'), 'porthole', 'alice', 'xfce');
    s.metadata.uid = 'suid';
    const selects = (labels: Record<string, string> | undefined) => Object.entries(deny!.spec.podSelector.matchLabels).every(([k, v]) => labels?.[k] === v);
    expect(selects(buildSessionPod({ session: s, template: t, namespace: 'porthole' }).metadata?.labels)).toBe(true);
    expect(selects(buildWarmPod(t, 'porthole', 'warm-xfce-1').metadata?.labels)).toBe(true);
    expect(selects(find(all, 'Deployment')[0]!.spec.template.metadata.labels)).toBe(false);
    expect(allow!.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'porthole-agent' } } }], ports: [{ protocol: 'TCP', port: 5901 }, { protocol: 'TCP', port: 8443 }] }]);
    const dep = find(all, 'Deployment')[0]!;
    expect(dep.spec.template.metadata.labels).toMatchObject(allow!.spec.ingress[0].from[0].podSelector.matchLabels);
    expect(find(all, 'PodDisruptionBudget')[0]!.spec.minAvailable).toBe(1);
  });

  it('ships the xfce Template', () => {
    const t = find(docs(), 'Template', 'xfce')[0]!;
    expect(t.apiVersion).toBe('porthole.dev/v1alpha1');
    expect(t.spec.image).toMatch(/xfce/);
    expect(t.spec.resources.requests).toEqual({ cpu: '500m', memory: '1Gi' });
  });
});
