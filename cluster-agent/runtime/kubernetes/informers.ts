/**
 * List+watch caches of the namespace's Sessions, Templates and our pods. Every replica runs them:
 * the API and the gateway answer from these caches, the leader's reconciler is driven by their events.
 * Objects are kept in wire form (JSON as the API server sends it) whether they came from the initial
 * list or a watch event.
 */
import { ListWatch, type KubernetesListObject, type KubernetesObject, type V1Pod, type Watch } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import type { Logger } from 'pino';
import { AGENT_NAME, GROUP, LABELS, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION, type SessionResource, type TemplateResource } from '../../kubernetes/resources.js';
import { backoffDelay } from './work-queue.js';
import type { KubeClients } from './kube-client.js';

export type Change<T> = (kind: 'add' | 'update' | 'delete', obj: T) => void;

/** A cache whose watch has been failing (and not re-established) this long makes the replica not ready. */
export const CACHE_UNHEALTHY_AFTER_MS = 15_000;

export interface CacheHealth {
  ok: boolean;
  /** since when the watch has been failing without coming back (undefined: it is fine) */
  failingSince?: number;
  lastError?: string;
}

/**
 * A ListWatch that restarts itself after errors (with backoff) and can be awaited until first listed.
 * Two ways a ListWatch fails: the list or an open watch fails (its 'error' event), or `start()` itself
 * rejects (opening the watch threw, e.g. credentials could not be read) with no event: both restart.
 * A dead connection that says nothing is found by the watch's TCP keepalive (client-node sets 30 s),
 * which ends the watch with an error.
 */
export class Cache<T extends KubernetesObject> {
  readonly lw: ListWatch<T>;
  private synced = false;
  private failures = 0;
  private stopped = false;
  private lastError: unknown;
  private lastErrorAt = 0;
  private errorCount = 0;
  private failingSince?: number;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    readonly what: string,
    path: string,
    clients: KubeClients,
    listFn: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    labelSelector?: string,
  ) {
    this.lw = new ListWatch<T>(path, neverRejecting(clients.watch), listFn, false, labelSelector);
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
      await this.lw.start().catch((err: unknown) => (this.lastError = err ?? new Error('the watch could not be started')));
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

  /** Not ok once the watch has been failing for `unhealthyAfterMs` without coming back. */
  health(now = Date.now(), unhealthyAfterMs = CACHE_UNHEALTHY_AFTER_MS): CacheHealth {
    if (this.failingSince === undefined) return { ok: true };
    const err = this.lastError;
    return {
      ok: now - this.failingSince < unhealthyAfterMs,
      failingSince: this.failingSince,
      ...(err !== undefined ? { lastError: err instanceof Error ? err.message : String(err) } : {}),
    };
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
    this.errorCount++;
    if (!this.synced || this.stopped) return; // start() handles its own retries
    this.failingSince ??= Date.now();
    // The ListWatch does not restart itself after an error; the cache would go stale silently.
    if (Date.now() - this.lastErrorAt > 60_000) this.failures = 0;
    this.lastErrorAt = Date.now();
    this.failures++;
    const delay = backoffDelay(this.failures, 500, 30_000);
    this.log.warn({ err, cache: this.what, retryInMs: delay }, 'watch failed; restarting');
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      const errorsBefore = this.errorCount;
      this.lw.start().then(
        () => {
          // start() resolves once the list and the watch request went through, or after reporting an error.
          if (this.errorCount === errorsBefore) this.failingSince = undefined;
        },
        // Rejected without an 'error' event (opening the watch threw): restart all the same.
        (e: unknown) => this.onError(e ?? new Error('the watch could not be restarted')),
      );
    }, delay);
    this.restartTimer.unref();
  }
}

/**
 * ListWatch restarts a watch that ended by itself from inside the old watch's done callback, without
 * catching: a watch() that rejects there (rather than calling done with the error) would be an
 * unhandled rejection and a cache that silently stops. Turn such a rejection into done(err), which
 * ListWatch reports as an 'error' event, which restarts the cache.
 */
function neverRejecting(watch: Watch): Watch {
  return {
    watch: (path: string, query: Parameters<Watch['watch']>[1], cb: Parameters<Watch['watch']>[2], done: (err: unknown) => void) =>
      watch.watch(path, query, cb, done).catch((err: unknown) => {
        done(err ?? new Error('the watch could not be opened'));
        return new AbortController();
      }),
  } as unknown as Watch;
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
