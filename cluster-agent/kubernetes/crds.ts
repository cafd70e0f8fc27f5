/**
 * The CustomResourceDefinitions for Session and Template: structural OpenAPI v3 schemas (every field
 * typed, so the API server prunes and validates), a status subresource on Session (only the agent
 * writes status; users and kubectl edit spec), and printer columns for `kubectl get`.
 */
import type { V1CustomResourceDefinition, V1JSONSchemaProps } from '@kubernetes/client-node';
import { GROUP, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION } from './resources.js';

const str = (description?: string, extra: V1JSONSchemaProps = {}): V1JSONSchemaProps => ({ type: 'string', ...(description ? { description } : {}), ...extra });
const int = (description: string, minimum = 0): V1JSONSchemaProps => ({ type: 'integer', format: 'int32', minimum, description });
const stringList = (description: string): V1JSONSchemaProps => ({ type: 'array', items: { type: 'string' }, description });
const stringMap = (description: string): V1JSONSchemaProps => ({ type: 'object', additionalProperties: { type: 'string' }, description });
/** resource.Quantity: "500m", "2Gi" or a bare number */
const quantityMap = (description: string): V1JSONSchemaProps => ({
  type: 'object',
  description,
  additionalProperties: { x_kubernetes_int_or_string: true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$' },
});

const DNS_LABEL = '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$';
const USER_NAME = '^[a-z][a-z0-9_-]{0,31}$';

export const templateSchema: V1JSONSchemaProps = {
  type: 'object',
  description: 'A desktop people may start: image, resources, placement, idle timeout and who may use it.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['image'],
      properties: {
        displayName: str('Name shown in the launcher'),
        description: str('One sentence shown under the name'),
        image: str('Container image with Xvnc (TigerVNC) and the desktop on PATH', { minLength: 1 }),
        resources: {
          type: 'object',
          description: 'Requests and limits of the desktop container',
          properties: { requests: quantityMap('Minimum resources the scheduler reserves'), limits: quantityMap('Maximum resources the desktop may use') },
        },
        gpu: int('Number of nvidia.com/gpu devices; 0 = none'),
        nodeSelector: stringMap('Node labels the desktop pod must run on'),
        tolerations: {
          type: 'array',
          description: 'Taints the desktop pod tolerates (e.g. GPU nodes)',
          items: {
            type: 'object',
            properties: {
              key: str(),
              operator: str(undefined, { _enum: ['Exists', 'Equal'] }),
              value: str(),
              effect: str(undefined, { _enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] }),
              tolerationSeconds: { type: 'integer', format: 'int64' },
            },
          },
        },
        idleTimeoutSeconds: int('Seconds without a client before the session is stopped (home kept); 0 = never'),
        protocols: { type: 'array', description: "What its sessions stream over; default ['vnc']. With webrtc the pod also runs the streamer", items: { type: 'string', _enum: ['webrtc', 'vnc'] }, maxItems: 2 },
        streamerImage: str('Image with porthole-streamer on PATH (default: image)', { minLength: 1 }),
        allowedUsers: stringList('User names who may start it; empty with allowedGroups empty = everybody'),
        allowedGroups: stringList('Groups whose members may start it'),
        requireEnrolledDevice: { type: 'boolean', description: 'Its sessions start and open only from a sign-in on an enrolled device (a kiosk; `porthole-agent devices enroll`)' },
        warmPool: {
          type: 'object',
          description: 'Pre-started unassigned pods that a request adopts at once',
          required: ['replicas'],
          properties: { replicas: int('How many idle pods to keep ready') },
        },
        podLabels: stringMap("Extra labels on the template's pods (the agent's own labels win)"),
        podAnnotations: stringMap("Extra annotations on the template's pods"),
      },
    },
  },
};

const condition: V1JSONSchemaProps = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: str(),
    status: str(undefined, { _enum: ['True', 'False', 'Unknown'] }),
    reason: str(),
    message: str(),
    lastTransitionTime: str(undefined, { format: 'date-time' }),
  },
};

export const sessionSchema: V1JSONSchemaProps = {
  type: 'object',
  description: "One user's desktop of one template. The agent creates it and writes its status.",
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['user', 'template'],
      // A session is for one user and one template for its whole life; a change would be a new session.
      x_kubernetes_validations: [{ rule: 'self == oldSelf', message: 'spec is immutable: delete the Session and create another' }],
      properties: {
        user: str('The user the desktop belongs to', { pattern: USER_NAME }),
        template: str('Name of the Template in the same namespace', { pattern: DNS_LABEL }),
      },
    },
    status: {
      type: 'object',
      properties: {
        phase: str('Pending, Starting, Running, Stopping, Stopped or Failed', { _enum: ['Pending', 'Starting', 'Running', 'Stopping', 'Stopped', 'Failed'] }),
        reason: str('Machine-readable reason when Failed: ImagePullError, Unschedulable, Crashed, Quota, Timeout, ...'),
        message: str('A sentence a person can act on'),
        podName: str(),
        podIP: str(),
        startedAt: str('When the desktop became Running', { format: 'date-time' }),
        lastActiveAt: str('When a viewer last had a stream open', { format: 'date-time' }),
        connectedClients: int('Open viewer streams now'),
        phaseSince: str('When the phase last changed', { format: 'date-time' }),
        viewers: {
          type: 'object',
          description: 'Open viewer streams per agent replica; each replica writes only its own key',
          additionalProperties: {
            type: 'object',
            required: ['count', 'seenAt'],
            properties: {
              count: int('Streams open through this replica'),
              seenAt: str('When this replica last reported', { format: 'date-time' }),
              devices: { type: 'array', description: 'The device ids of those streams (roaming: another device is not reconnected while one shows it)', maxItems: 64, items: { type: 'string', maxLength: 128 } },
            },
          },
        },
        conditions: { type: 'array', items: condition, x_kubernetes_list_type: 'map', x_kubernetes_list_map_keys: ['type'] },
      },
    },
  },
};

/**
 * Bumped with every change to the CRDs' schemas, so the installer's doctor can tell an older install
 * (upgraded in place) from a newer one (this installer must not downgrade it).
 */
export const CRD_REVISION = 2;
export const CRD_REVISION_ANNOTATION = 'porthole.dev/schema-revision';

export function templateCrd(): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${TEMPLATE_PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'porthole' }, annotations: { [CRD_REVISION_ANNOTATION]: String(CRD_REVISION) } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: TEMPLATE_PLURAL, singular: 'template', kind: 'Template', listKind: 'TemplateList', shortNames: ['ptpl'], categories: ['porthole'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: templateSchema },
          additionalPrinterColumns: [
            { name: 'Image', type: 'string', jsonPath: '.spec.image' },
            { name: 'GPU', type: 'integer', jsonPath: '.spec.gpu' },
            { name: 'Idle', type: 'integer', jsonPath: '.spec.idleTimeoutSeconds', description: 'idle timeout in seconds' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

export function sessionCrd(): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${SESSION_PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'porthole' }, annotations: { [CRD_REVISION_ANNOTATION]: String(CRD_REVISION) } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: SESSION_PLURAL, singular: 'session', kind: 'Session', listKind: 'SessionList', shortNames: ['psess'], categories: ['porthole'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: sessionSchema },
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'User', type: 'string', jsonPath: '.spec.user' },
            { name: 'Template', type: 'string', jsonPath: '.spec.template' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
            { name: 'Pod IP', type: 'string', jsonPath: '.status.podIP', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}
