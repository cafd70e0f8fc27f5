import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCommand } from '../../cluster-agent/agent/args.js';
import { DEFAULT_DESKTOP_IMAGE, xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { agentRules, renderManifestsYaml, type ManifestOptions } from '../../cluster-agent/kubernetes/install-manifests.js';
import { TurnOptionError } from '../../cluster-agent/kubernetes/turn-manifests.js';
import { restrictedViolations } from '../support/pod-security.js';
import { sessionName } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession, buildSessionPod, buildWarmPod } from '../../cluster-agent/kubernetes/session-objects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML is walked freely in assertions
type Obj = Record<string, any>;

function docs(opts: ManifestOptions = {}): Obj[] {
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
      ['allowedGroups', 'allowedUsers', 'description', 'displayName', 'gpu', 'idleTimeoutSeconds', 'image', 'nodeSelector', 'podAnnotations', 'podLabels', 'protocols', 'requireEnrolledDevice', 'resources', 'streamerImage', 'tolerations', 'warmPool'].sort(),
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
    expect(t.spec.image).toBe(DEFAULT_DESKTOP_IMAGE);
    expect(t.spec.resources.requests).toEqual({ cpu: '500m', memory: '1Gi' });
  });
});

describe('porthole-agent manifests --turn-external-host (a TURN relay)', () => {
  const turn = { externalHost: 'turn.example.com', podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] };

  it('adds coturn (ServiceAccount, ConfigMap, Deployment, Service, NetworkPolicy) and points the agent at it', () => {
    const all = docs({ turn });
    expect(all.map((o) => o.kind)).toEqual([
      'Namespace', 'CustomResourceDefinition', 'CustomResourceDefinition', 'ServiceAccount', 'Role', 'RoleBinding',
      'Deployment', 'Service', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget',
      'ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'NetworkPolicy', 'Template',
    ]);
    const args = find(all, 'Deployment', 'porthole-agent')[0]!.spec.template.spec.containers[0].args as string[];
    expect(args.join(' ')).toContain('--turn turn:turn.example.com:3478?transport=udp --turn turn:turn.example.com:3478?transport=tcp --turn-secret-name porthole-turn');
    // Without the flag, no relay and no TURN flags.
    expect(find(docs(), 'Deployment').map((d) => d.metadata.name)).toEqual(['porthole-agent']);
    expect(JSON.stringify(docs())).not.toContain('--turn');
  });

  it('carries no secret: coturn gets it from the Secret the agent creates, through an init container', () => {
    const yaml = renderManifestsYaml({ turn });
    expect(yaml).not.toMatch(/static-auth-secret=(?!%s)/); // only the init script's printf format
    expect(find(docs({ turn }), 'Secret')).toEqual([]);
    const pod = find(docs({ turn }), 'Deployment', 'porthole-turn')[0]!.spec.template.spec;
    expect(pod.volumes.find((v: Obj) => v.name === 'secret').secret.secretName).toBe('porthole-turn');
    expect(pod.initContainers[0].command.join(' ')).toContain("printf 'static-auth-secret=%s\\n'");
    for (const c of [...pod.initContainers, ...pod.containers]) expect(c.env ?? []).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("coturn's pod passes the restricted Pod Security Standard, with NET_BIND_SERVICE only", () => {
    const dep = find(docs({ turn }), 'Deployment', 'porthole-turn')[0]!;
    expect(restrictedViolations({ metadata: dep.spec.template.metadata, spec: dep.spec.template.spec })).toEqual([]);
    expect(dep.spec.template.spec.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    expect(dep.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('relays only to the pod network, in its config and in its NetworkPolicy', () => {
    const all = docs({ turn });
    const conf = find(all, 'ConfigMap', 'porthole-turn')[0]!.data['turnserver.conf'] as string;
    expect(conf).toContain('denied-peer-ip=0.0.0.0-255.255.255.255');
    expect(conf).toContain('allowed-peer-ip=10.244.0.0-10.244.255.255');
    expect(conf).toContain('allowed-peer-ip=fd00:10:244:0:0:0:0:0-fd00:10:244:ff:ffff:ffff:ffff:ffff');
    expect(conf).toMatch(/^no-tcp-relay$/m);
    expect(conf).toMatch(/^no-cli$/m);
    const policy = find(all, 'NetworkPolicy', 'porthole-turn')[0]!;
    expect(policy.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'porthole-desktop', 'app.kubernetes.io/component': 'session' } } }], ports: [{ protocol: 'UDP' }] }]);
  });

  it('exposes the listening port only, as a LoadBalancer or on a node port', () => {
    const lb = find(docs({ turn }), 'Service', 'porthole-turn')[0]!.spec;
    expect(lb.type).toBe('LoadBalancer');
    expect(lb.ports.map((p: Obj) => `${p.protocol}/${p.port}`)).toEqual(['UDP/3478', 'TCP/3478']);
    const np = docs({ turn: { ...turn, serviceType: 'NodePort' } });
    expect(find(np, 'Service', 'porthole-turn')[0]!.spec.ports.map((p: Obj) => p.nodePort)).toEqual([30478, 30478]);
    expect(find(np, 'Deployment', 'porthole-agent')[0]!.spec.template.spec.containers[0].args).toContain('turn:turn.example.com:30478?transport=udp');
  });

  it('says what is wrong with the TURN flags, naming the flag', () => {
    const usage = (...args: string[]) => () => parseCommand(['manifests', ...args]);
    expect(usage('--turn-external-host', 'turn.example.com')).toThrow(/needs --pod-cidr CIDR/);
    expect(usage('--pod-cidr', '10.244.0.0/16')).toThrow(/--pod-cidr configures the TURN relay, which needs --turn-external-host/);
    expect(usage('--turn-external-host', 'http://x', '--pod-cidr', '10.0.0.0/8')).toThrow(/--turn-external-host must be a host name or an IP address/);
    expect(usage('--turn-external-host', 'x', '--pod-cidr', '10.0.0.0/33')).toThrow(/--pod-cidr must be a network as ADDRESS\/PREFIX/);
    expect(usage('--turn-external-host', 'x', '--pod-cidr', '10.0.0.0/8', '--turn-service-type', 'NodePort', '--turn-port', '3478')).toThrow(/30000-32767/);
    expect(usage('--turn-external-host', 'x', '--pod-cidr', '10.0.0.0/8', '--turn-relay-ports', '100-200')).toThrow(/--turn-relay-ports must be MIN-MAX within 1024-65535/);
    // host bits set: parsed as a CIDR, refused when the config is made
    expect(() => renderManifestsYaml({ turn: { externalHost: 'x', podCidrs: ['10.244.1.0/16'] } })).toThrow(TurnOptionError);
    expect(() => renderManifestsYaml({ turn: { externalHost: 'x', podCidrs: ['10.244.1.0/16'] } })).toThrow(/host bits set; the network is 10.244.0.0\/16/);
    expect(parseCommand(['manifests', '--turn-external-host', '203.0.113.7', '--pod-cidr', '10.244.0.0/16'])).toEqual({ kind: 'manifests', turn: { externalHost: '203.0.113.7', podCidrs: ['10.244.0.0/16'] } });
  });

  it('serve --turn-secret-name is for the kubernetes runtime, and one secret source only', () => {
    const serve = (...args: string[]) => () => parseCommand(['serve', '--listen', '127.0.0.1:0', ...args]);
    expect(serve('--runtime', 'local', '--turn-secret-name', 'porthole-turn')).toThrow(/needs --runtime kubernetes/);
    expect(serve('--runtime', 'kubernetes', '--turn-secret-name', 'porthole-turn', '--turn-secret-file', '/x')).toThrow(/give one/);
    expect(serve('--runtime', 'kubernetes', '--turn-secret-name', 'Bad_Name')).toThrow(/--turn-secret-name must be a Kubernetes object name/);
  });
});
