/**
 * List+watch caches of the namespace's Sessions, Templates and our pods. Every replica runs them:
 * the API and the gateway answer from these caches, the leader's reconciler is driven by their events.
 * Objects are kept in wire form (JSON as the API server sends it) whether they came from the initial
 * list or a watch event.
 */
import { ListWatch, Watch, type KubernetesListObject, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import type { Logger } from 'pino';
import { AGENT_NAME, GROUP, LABELS, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../../kubernetes/resources.js';
import { backoffDelay } from './work-queue.js';
import type { KubeClients } from './kube-client.js';

export type Change<T> = (kind: 'add' | 'update' | 'delete', obj: T) => void;

/** A ListWatch that restarts itself after errors (with backoff) and can be awaited until first listed. */
export class Cache<T extends KubernetesObject> {
  readonly lw: ListWatch<T>;
  private synced = false;
  private failures = 0;
  private stopped = false;
  private lastError: unknown;
  private lastErrorAt = 0;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    readonly what: string,
    path: string,
    clients: KubeClients,
    listFn: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    labelSelector?: string,
  ) {
    this.lw = new ListWatch<T>(path, new Watch(clients.kc), listFn, false, labelSelector);
    this.lw.on('connect', () => undefined);
    this.lw.on('error', (err: unknown) => this.onError(err));
  }

  on(fn: Change<T>): void {
    this.lw.on('add', (o) => fn('add', o));
    this.lw.on('update', (o) => fn('update', o));
    this.lw.on('delete', (o) => fn('delete', o));
  }

  /** Lists (and starts watching); rejects with the last error if the first list keeps failing. */
  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.lastError = undefined;
      await this.lw.start();
      if (this.lastError === undefined) {
        this.synced = true;
        this.failures = 0;
        return;
      }
      if (Date.now() > deadline) throw this.lastError;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, 250, 2000)));
    }
  }

  get isSynced(): boolean {
    return this.synced;
  }

  list(): T[] {
    return [...this.lw.list()];
  }

  get(name: string, namespace: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.lw.stop();
  }

  private onError(err: unknown): void {
    this.lastError = err;
    if (!this.synced || this.stopped) return; // start() handles its own retries
    // The ListWatch does not restart itself after an error; the cache would go stale silently.
    if (Date.now() - this.lastErrorAt > 60_000) this.failures = 0;
    this.lastErrorAt = Date.now();
    this.failures++;
    const delay = backoffDelay(this.failures, 500, 30_000);
    this.log.warn({ err, cache: this.what, retryInMs: delay }, 'watch failed; restarting');
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.lw.start().catch(() => undefined); // a failure comes back through onError
    }, delay);
    this.restartTimer.unref();
  }
}

/** Typed lists deserialize into models (Dates, renamed fields); turn them back into wire form. */
function wire<T>(list: unknown, type: string): KubernetesListObject<T & KubernetesObject> {
  return ObjectSerializer.serialize(list, type) as KubernetesListObject<T & KubernetesObject>;
}

export interface Caches {
  sessions: Cache<SessionResource & KubernetesObject>;
  templates: Cache<TemplateResource & KubernetesObject>;
  pods: Cache<V1Pod>;
}

export const POD_SELECTOR = `${LABELS.managedBy}=${AGENT_NAME}`;

export function makeCaches(clients: KubeClients, namespace: string, log: Logger): Caches {
  const custom = (plural: string) => async () =>
    (await clients.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as KubernetesListObject<never>;
  return {
    sessions: new Cache('sessions', `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${SESSION_PLURAL}`, clients, custom(SESSION_PLURAL), log),
    templates: new Cache('templates', `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${TEMPLATE_PLURAL}`, clients, custom(TEMPLATE_PLURAL), log),
    pods: new Cache<V1Pod>(
      'pods',
      `/api/v1/namespaces/${namespace}/pods`,
      clients,
      async () => wire<V1Pod>(await clients.core.listNamespacedPod({ namespace, labelSelector: POD_SELECTOR }), 'V1PodList'),
      log,
      POD_SELECTOR,
    ),
  };
}
