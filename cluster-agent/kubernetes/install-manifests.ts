/**
 * What `porthole-agent manifests` prints: every object that installs the agent into a cluster, built
 * as typed objects and rendered as multi-document YAML. Pure (no cluster access).
 */
import type {
  V1Deployment,
  V1Namespace,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { stringify } from 'yaml';
import { sessionCrd, templateCrd } from './crds.js';
import { xfceTemplate } from './default-templates.js';
import { AGENT_NAME, DESKTOP_NAME, GROUP, LABELS, SESSION_PLURAL, TEMPLATE_PLURAL, STREAMER_PORT, VNC_PORT } from './resources.js';
import { TURN_SECRET_NAME, turnObjects, turnUrls, type TurnOptions } from './turn-manifests.js';

export const DEFAULT_NAMESPACE = 'porthole';
export const DEFAULT_AGENT_IMAGE = 'ghcr.io/porthole-dev/porthole-agent:0.1.0';
export const AGENT_PORT = 8080;
/** The Lease the reconciler's leader holds; the Role may touch only this one. */
export const LEADER_LEASE_NAME = 'porthole-agent-reconciler';

export interface ManifestOptions {
  namespace?: string;
  image?: string;
  /** agent replicas; default 2 (leader election makes more safe) */
  replicas?: number;
  /** a TURN relay (coturn) wired to the agent's shared secret; turn-manifests.ts */
  turn?: TurnOptions;
}

const agentSelector = { [LABELS.name]: AGENT_NAME };
const agentLabels = { ...agentSelector, [LABELS.partOf]: 'porthole', [LABELS.component]: 'agent' };

/**
 * The verbs the Kubernetes runtime calls, all namespaced. Pods are deleted by the reconciler (ended
 * sessions, extra and warm-pool pods) and by stop(); Secrets and PVCs are never deleted (the garbage
 * collector removes Secrets through owner references; homes outlive sessions). No write on Templates
 * (admins own them). `secrets get` is for the whole namespace: it reads the session VNC Secrets, the
 * agent's own signing-key Secret and the per-user refresh-token Secrets, which are also the only Secrets
 * it updates (docs/kubernetes.md says how to split it). Pods, PVCs and
 * Templates are read from informer caches (list/watch) or found by create's AlreadyExists, so they need
 * no `get`; Events are only created. test/cluster/rbac.test.ts shows each verb by a real call.
 */
export function agentRules(): V1PolicyRule[] {
  return [
    // patch: a replica's takeover (roaming) as an annotation the others watch (runtime/kubernetes/takeovers.ts).
    { apiGroups: [GROUP], resources: [SESSION_PLURAL], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
    { apiGroups: [GROUP], resources: [`${SESSION_PLURAL}/status`], verbs: ['patch'] },
    { apiGroups: [GROUP], resources: [TEMPLATE_PLURAL], verbs: ['list', 'watch'] },
    // patch: a start claims a warm-pool pod by re-labelling it and making the Session its owner,
    // guarded by resourceVersion (runtime/kubernetes/warm-pool.ts). Nothing else patches pods.
    { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'create', 'delete', 'patch'] },
    // update: refresh tokens, one Secret per user, replaced with a resourceVersion precondition
    // (runtime/kubernetes/refresh-token-secrets.ts). Names are per user, so update cannot be limited by name.
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update'] },
    { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create'] },
    // create: phase-transition Events, and one named Event per used connect token (single use across
    // replicas: a second create of that name is AlreadyExists; runtime/kubernetes/connect-token-ledger.ts).
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    // create cannot be limited by name; get/update can.
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEADER_LEASE_NAME], verbs: ['get', 'update'] },
  ];
}

export function installObjects(opts: ManifestOptions = {}): { type: string; object: object }[] {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const image = opts.image ?? DEFAULT_AGENT_IMAGE;
  const meta = (name: string) => ({ name, namespace, labels: agentLabels });

  const ns: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        [LABELS.partOf]: 'porthole',
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  };
  const sa: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(AGENT_NAME) };
  const role: V1Role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(AGENT_NAME), rules: agentRules() };
  const binding: V1RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(AGENT_NAME),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: AGENT_NAME },
    subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace }],
  };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(AGENT_NAME),
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: agentSelector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: agentLabels },
        spec: {
          serviceAccountName: AGENT_NAME,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          // Spread the replicas so one node going away leaves the API up.
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: agentSelector } }],
          containers: [
            {
              name: 'agent',
              image,
              args: [
                'serve', '--runtime', 'kubernetes', '--listen', `0.0.0.0:${AGENT_PORT}`, '--namespace', namespace, '--data-dir', '/var/lib/porthole', '--users', '/etc/porthole/users.yaml',
                // The relay's URLs for viewers and streamers; the shared secret is read from (or, on the first
                // start, created in) the Secret coturn mounts, never passed here.
                ...(opts.turn ? [...turnUrls(opts.turn).flatMap((u) => ['--turn', u]), '--turn-secret-name', TURN_SECRET_NAME] : []),
              ],
              ports: [{ name: 'http', containerPort: AGENT_PORT, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              env: [{ name: 'PORTHOLE_LOG_LEVEL', value: 'info' }],
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/porthole' },
                { name: 'users', mountPath: '/etc/porthole', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'data', emptyDir: {} },
            // Created by the admin (`porthole-agent users add` then `kubectl create secret generic porthole-users --from-file=users.yaml`).
            { name: 'users', secret: { secretName: 'porthole-users', optional: true } },
          ],
        },
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(AGENT_NAME),
    spec: { selector: agentSelector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  };
  // Every desktop pod: a session's, and a warm-pool pod not yet claimed (it has no session label but
  // already runs a VNC server). Both builders in session-objects.ts set these two labels, after the
  // template's podLabels, so a template cannot take its pods out of the policy.
  const sessionPods = { matchLabels: { [LABELS.name]: DESKTOP_NAME, [LABELS.component]: 'session' } };
  const denyAll: V1NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'porthole-sessions-deny-ingress', namespace, labels: { [LABELS.partOf]: 'porthole' } },
    spec: { podSelector: sessionPods, policyTypes: ['Ingress'] },
  };
  const vncFromAgent: V1NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'porthole-sessions-vnc-from-agent', namespace, labels: { [LABELS.partOf]: 'porthole' } },
    spec: {
      podSelector: sessionPods,
      policyTypes: ['Ingress'],
      // VNC and the streamer's signalling, from the agent only. WebRTC media needs no ingress: the pod's
      // streamer reaches the client (or the TURN relay) first and the replies ride that flow.
      ingress: [{ _from: [{ podSelector: { matchLabels: agentSelector } }], ports: [{ protocol: 'TCP', port: VNC_PORT }, { protocol: 'TCP', port: STREAMER_PORT }] }],
    },
  };
  const pdb: V1PodDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(AGENT_NAME),
    spec: { minAvailable: 1, selector: { matchLabels: agentSelector } },
  };

  return [
    { type: 'V1Namespace', object: ns },
    { type: 'V1CustomResourceDefinition', object: sessionCrd() },
    { type: 'V1CustomResourceDefinition', object: templateCrd() },
    { type: 'V1ServiceAccount', object: sa },
    { type: 'V1Role', object: role },
    { type: 'V1RoleBinding', object: binding },
    { type: 'V1Deployment', object: deployment },
    { type: 'V1Service', object: service },
    { type: 'V1NetworkPolicy', object: denyAll },
    { type: 'V1NetworkPolicy', object: vncFromAgent },
    { type: 'V1PodDisruptionBudget', object: pdb },
    ...(opts.turn ? turnObjects(namespace, opts.turn, sessionPods) : []),
    // A custom resource: already in wire form, nothing for the serializer to rename.
    { type: 'porthole.dev/v1alpha1/Template', object: xfceTemplate(namespace) },
  ];
}

/** Typed model -> the JSON the API server expects (camelCase model names -> wire names like `from`). */
export function toWire(type: string, object: object): Record<string, unknown> {
  if (type.includes('/')) return structuredClone(object) as Record<string, unknown>;
  const wire = ObjectSerializer.serialize(object, type) as Record<string, unknown>;
  // The serializer stops at JSONSchemaProps' untyped `items`/`additionalProperties`; finish the renaming.
  return type === 'V1CustomResourceDefinition' ? (schemaKeysToWire(wire) as Record<string, unknown>) : wire;
}

/** `_enum` -> `enum`, `x_kubernetes_list_type` -> `x-kubernetes-list-type`, at any depth. */
export function schemaKeysToWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(schemaKeysToWire);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const key = k === '_enum' ? 'enum' : k === '_default' ? 'default' : k.startsWith('x_kubernetes_') ? k.replaceAll('_', '-') : k;
      return [key, schemaKeysToWire(v)];
    }),
  );
}

export function installManifests(opts: ManifestOptions = {}): Record<string, unknown>[] {
  return installObjects(opts).map(({ type, object }) => toWire(type, object));
}

export function renderManifestsYaml(opts: ManifestOptions = {}): string {
  const turn = opts.turn ? `# TURN relay for WebRTC at ${turnUrls(opts.turn).join(', ')}\n` : '# No TURN relay (WebRTC across NAT needs one: --turn-external-host HOST --pod-cidr CIDR)\n';
  const header = `# Porthole agent install (namespace ${opts.namespace ?? DEFAULT_NAMESPACE}): kubectl apply --server-side -f -\n${turn}`;
  return header + installManifests(opts).map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
