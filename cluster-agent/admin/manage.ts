/**
 * Managing an installed Porthole from admin mode: its Templates (made and changed with server-side
 * apply, so the API server checks them against the Template CRD's schema and its sentence names the
 * field), every user's sessions (see, stop), and the agent's Deployment (replicas, image).
 */
import { AppsV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { AGENT_NAME, API_VERSION, GROUP, LABELS, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../kubernetes/resources.js';
import { AdminError, apiMessage, ObjectApi, statusOf } from './cluster.js';

/**
 * Right after an install changed a CRD the API server answers 503 "storage is (re)initializing" for
 * its resources for a moment; such answers (and 429) are waited out, up to ten seconds.
 */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  return status === 429 || status === 503 || /storage is \(re\)initializing/.test(apiMessage(err));
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + 10_000;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AdminError) throw err;
      if (isTransient(err) && Date.now() + delay < until) {
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      throw new AdminError(`could not ${what} (${apiMessage(err)})`);
    }
  }
}

export interface TemplateRow {
  name: string;
  spec: Record<string, unknown>;
}

export async function listTemplates(kc: KubeConfig, namespace: string): Promise<TemplateRow[]> {
  return guard(`list the Templates in ${namespace}`, async () => {
    const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: TEMPLATE_PLURAL })) as { items: TemplateResource[] };
    return list.items.map((t) => ({ name: t.metadata.name!, spec: t.spec as unknown as Record<string, unknown> })).sort((a, b) => a.name.localeCompare(b.name));
  });
}

/** Creates or changes a Template; `dryRun` only asks the API server whether it would take it. */
export async function saveTemplate(kc: KubeConfig, namespace: string, name: string, spec: Record<string, unknown>, dryRun: boolean): Promise<void> {
  const object = { apiVersion: API_VERSION, kind: 'Template', metadata: { name, namespace, labels: { [LABELS.partOf]: 'porthole' } }, spec } as KubernetesObject;
  try {
    await ObjectApi.for(kc).apply(object, dryRun);
  } catch (err) {
    throw new AdminError(`the API server refused the Template "${name}": ${apiMessage(err)}`);
  }
}

export async function deleteTemplate(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  return guard(`delete the Template ${name}`, async () => {
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: TEMPLATE_PLURAL, name });
  });
}

export interface SessionRow {
  name: string;
  user: string;
  template: string;
  phase: string;
  startedAt?: string;
}

export async function listSessions(kc: KubeConfig, namespace: string): Promise<SessionRow[]> {
  return guard(`list the sessions in ${namespace}`, async () => {
    const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: SESSION_PLURAL })) as { items: SessionResource[] };
    return list.items.map((s) => ({ name: s.metadata.name!, user: s.spec.user, template: s.spec.template, phase: s.status?.phase ?? 'Pending', ...(s.status?.startedAt ? { startedAt: s.status.startedAt } : {}) }));
  });
}

/** Ends a person's session: its pod and Secret go with it; their home volume stays. */
export async function stopSession(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: SESSION_PLURAL, name, body: { propagationPolicy: 'Background' } });
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw new AdminError(`could not stop the session ${name} (${apiMessage(err)})`);
  }
}

export interface AgentRow {
  image: string;
  replicas: number;
  available: number;
}

export async function agentStatus(kc: KubeConfig, namespace: string): Promise<AgentRow> {
  return guard(`read the agent's Deployment in ${namespace} (is Porthole installed there?)`, async () => {
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: AGENT_NAME, namespace });
    return { image: d.spec?.template.spec?.containers[0]?.image ?? '', replicas: d.spec?.replicas ?? 1, available: d.status?.availableReplicas ?? 0 };
  });
}
