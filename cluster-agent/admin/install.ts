/**
 * plan, install (or upgrade) and uninstall: the same objects `porthole-agent manifests` prints, applied
 * with server-side apply one by one, each reported as it goes; then a wait for the agent's Deployment.
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { LABELS } from '../kubernetes/resources.js';
import { AdminError, apiMessage, idOf, ObjectApi, statusOf } from './cluster.js';

export type Action = 'create' | 'update' | 'unchanged';
export interface PlannedObject {
  id: string;
  kind: string;
  name: string;
  namespace?: string;
  action: Action;
}

/** What the server manages on its own: left out when comparing what is stored with what would be. */
function comparable(o: KubernetesObject | undefined): unknown {
  if (!o) return undefined;
  const { metadata, status: _status, ...rest } = o as KubernetesObject & { status?: unknown };
  const { resourceVersion: _rv, managedFields: _mf, creationTimestamp: _ct, uid: _uid, generation: _gen, ...meta } = metadata ?? {};
  return { ...rest, metadata: meta };
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]));
}

/** Pure: what applying would do, from the stored object and the server's dry run of the apply. */
export function actionOf(stored: KubernetesObject | undefined, dryRun: KubernetesObject): Action {
  if (!stored) return 'create';
  return sameJson(comparable(stored), comparable(dryRun)) ? 'unchanged' : 'update';
}

const planned = (o: KubernetesObject, action: Action): PlannedObject => ({
  id: idOf(o),
  kind: o.kind!,
  name: o.metadata!.name!,
  ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
  action,
});

/** A server-side-apply dry run of every object: create / update / unchanged. Changes nothing. */
export async function plan(kc: KubeConfig, objects: KubernetesObject[]): Promise<PlannedObject[]> {
  const api = ObjectApi.for(kc);
  const out: PlannedObject[] = [];
  for (const o of objects) {
    const stored = await api.current(o);
    let result: KubernetesObject;
    try {
      result = await api.apply(o, true);
    } catch (err) {
      // Objects in a namespace that does not exist yet cannot be dry-run: they will be created.
      if (statusOf(err) === 404 && !stored) {
        out.push(planned(o, 'create'));
        continue;
      }
      throw new AdminError(`the API server refused ${idOf(o)} (${apiMessage(err)})`);
    }
    out.push(planned(o, actionOf(stored, result)));
  }
  return out;
}

export interface InstallProgress {
  /** 1-based, of `total` objects */
  index: number;
  total: number;
  object: PlannedObject;
}

/** Applies every object in order, reporting each; stops at the first refusal, naming it. */
export async function install(kc: KubeConfig, objects: KubernetesObject[], onObject: (p: InstallProgress) => void = () => undefined): Promise<PlannedObject[]> {
  const api = ObjectApi.for(kc);
  const done: PlannedObject[] = [];
  for (const [i, o] of objects.entries()) {
    const stored = await api.current(o);
    let result: KubernetesObject;
    try {
      result = await api.apply(o);
    } catch (err) {
      throw new AdminError(`the API server refused ${idOf(o)} (${apiMessage(err)}); ${done.length} of ${objects.length} objects were applied before it`);
    }
    const item = planned(o, actionOf(stored, result));
    done.push(item);
    onObject({ index: i + 1, total: objects.length, object: item });
  }
  return done;
}

export interface RolloutProgress {
  ready: number;
  wanted: number;
  elapsedMs: number;
  timeoutMs: number;
}

/** Pure: the agent's Deployment has rolled out: the new generation observed and every replica available. */
export function rolledOut(d: V1Deployment): boolean {
  const wanted = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && (s.updatedReplicas ?? 0) >= wanted && (s.availableReplicas ?? 0) >= wanted;
}

/** Waits until the Deployment is available, reporting every second; a timeout says what was seen. */
export async function waitForAgent(kc: KubeConfig, namespace: string, name: string, timeoutMs: number, onProgress: (p: RolloutProgress) => void = () => undefined): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const started = Date.now();
  let last: V1Deployment | undefined;
  for (;;) {
    last = await apps.readNamespacedDeployment({ name, namespace });
    const wanted = last.spec?.replicas ?? 1;
    onProgress({ ready: Math.min(wanted, last.status?.availableReplicas ?? 0), wanted, elapsedMs: Date.now() - started, timeoutMs });
    if (rolledOut(last)) return;
    if (Date.now() - started > timeoutMs) {
      const why = last.status?.conditions?.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ''}`).join('; ');
      throw new AdminError(`the agent's Deployment ${namespace}/${name} has ${last.status?.availableReplicas ?? 0} of ${wanted} replicas available after ${Math.round(timeoutMs / 1000)} s${why ? `: ${why}` : ''}; see kubectl -n ${namespace} describe deployment ${name}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface UninstallOptions {
  /** the CustomResourceDefinitions too: this removes every Session and Template in the whole cluster */
  deleteCrds?: boolean;
  /** the people's home volumes (PVCs) and the namespace too */
  deleteHomes?: boolean;
}

/**
 * Removes what install applied, last first. Home volumes stay unless asked (the agent made them, not
 * the install; they are found by label), and so do the CRDs, which other installs may share.
 */
export async function uninstall(kc: KubeConfig, objects: KubernetesObject[], namespace: string, opts: UninstallOptions = {}, onObject: (id: string, result: 'deleted' | 'absent' | 'kept') => void = () => undefined): Promise<void> {
  const api = ObjectApi.for(kc);
  for (const o of [...objects].reverse()) {
    if ((o.kind === 'CustomResourceDefinition' && !opts.deleteCrds) || (o.kind === 'Namespace' && !opts.deleteHomes)) {
      onObject(idOf(o), 'kept');
      continue;
    }
    try {
      await api.delete(o as KubernetesObject & { metadata: { name: string } });
      onObject(idOf(o), 'deleted');
    } catch (err) {
      if (statusOf(err) === 404) onObject(idOf(o), 'absent');
      else throw new AdminError(`could not delete ${idOf(o)} (${apiMessage(err)})`);
    }
  }
  if (opts.deleteHomes) {
    const core = kc.makeApiClient(CoreV1Api);
    await core.deleteCollectionNamespacedPersistentVolumeClaim({ namespace, labelSelector: `${LABELS.partOf}=porthole` }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw new AdminError(`could not delete the home volumes in ${namespace} (${apiMessage(err)})`);
    });
  }
}
