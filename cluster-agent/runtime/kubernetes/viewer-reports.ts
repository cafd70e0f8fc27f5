/**
 * Writes this replica's open-stream count per session, and the devices of those streams, into Session
 * status.viewers[<replica>] so every replica's idle reaper sees viewers on any replica, and every
 * replica knows which device shows a desktop (roaming). Rate-limited per session (the latest count wins,
 * at most one write per `minIntervalMs`), and re-sent every `heartbeatMs` while streams are open so
 * the entry does not go stale.
 */
import type { Logger } from 'pino';
import { GROUP, SESSION_PLURAL, VERSION } from '../../kubernetes/resources.js';
import { apiMessage, isNotFound, mergePatch, type KubeClients } from './kube-client.js';
import { toMillis } from './session-status.js';
import { VIEWERS_STALE_MS } from './session-view.js';
import { backoffDelay } from './work-queue.js';

interface Entry {
  count: number;
  devices: readonly string[];
  lastSent: number;
  /** the count the API server last accepted */
  sentCount: number;
  /** consecutive failed sends: the retry waits backoffDelay(failures) */
  failures: number;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
  /** report() promises waiting for the next send */
  waiters: (() => void)[];
}

export class ViewerReports {
  private readonly entries = new Map<string, Entry>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly replica: string,
    private readonly log: Logger,
    private readonly minIntervalMs = 1000,
    heartbeatMs = 60_000,
    /** the session's status.viewers as this replica's cache has it: stale entries of dead replicas are removed when writing */
    private readonly viewersOf: (id: string) => Record<string, { seenAt?: unknown }> | undefined = () => undefined,
  ) {
    this.heartbeat = setInterval(() => {
      for (const [id, e] of this.entries) if (e.count > 0) this.schedule(id, e);
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  report(id: string, count: number, devices: readonly string[] = []): Promise<void> {
    if (this.closed) return Promise.resolve();
    const e = this.entries.get(id) ?? { count, devices, lastSent: 0, sentCount: 0, failures: 0, waiters: [] };
    e.count = count;
    e.devices = count > 0 ? devices : [];
    this.entries.set(id, e);
    const done = new Promise<void>((ok) => e.waiters.push(ok));
    this.schedule(id, e);
    return done;
  }

  /** This replica's latest count for the session (what it has reported or is about to), if any. */
  localCount(id: string): number | undefined {
    return this.entries.get(id)?.count;
  }

  private schedule(id: string, e: Entry, delayMs?: number): void {
    if (e.timer || this.closed) return;
    const wait = delayMs ?? Math.max(0, e.lastSent + this.minIntervalMs - Date.now());
    e.timer = setTimeout(() => {
      e.timer = undefined;
      const waiters = e.waiters.splice(0);
      const run = (e.inFlight ?? Promise.resolve()).then(() => this.send(id, e));
      e.inFlight = run;
      void run.finally(() => {
        if (e.inFlight === run) e.inFlight = undefined;
        for (const w of waiters) w();
      });
    }, wait);
    e.timer.unref();
  }

  private async send(id: string, e: Entry): Promise<void> {
    const at = new Date().toISOString();
    e.lastSent = Date.now();
    const count = e.count;
    const devices = [...e.devices];
    try {
      await this.clients.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace: this.namespace, plural: SESSION_PLURAL, name: id, body: { status: { viewers: { ...this.staleEntries(id), [this.replica]: { count, seenAt: at, devices } }, lastActiveAt: at } } },
        mergePatch(),
      );
      e.failures = 0;
      e.sentCount = count;
    } catch (err) {
      if (isNotFound(err)) {
        this.entries.delete(id);
        return;
      }
      // Retry soon, not at the next heartbeat: meanwhile other replicas' idle reapers may not see the viewer.
      e.failures++;
      const retryIn = backoffDelay(e.failures, this.minIntervalMs, 30_000);
      this.log.warn({ err: apiMessage(err), session: id, retryInMs: retryIn }, 'could not record viewers; retrying');
      this.schedule(id, e, retryIn);
      return;
    }
    if (count === 0 && e.count === 0 && !e.timer) this.entries.delete(id);
  }

  /** Merge-patch nulls for other replicas' entries older than the staleness window (replicas that died). */
  private staleEntries(id: string): Record<string, null> {
    const out: Record<string, null> = {};
    const now = Date.now();
    for (const [replica, v] of Object.entries(this.viewersOf(id) ?? {})) {
      const seen = toMillis(v.seenAt as string | undefined);
      if (replica !== this.replica && (Number.isNaN(seen) || now - seen > VIEWERS_STALE_MS)) out[replica] = null;
    }
    return out;
  }

  /**
   * Stops sending. Sessions this replica still reported viewers for get a last count of 0 (best effort,
   * bounded by `finalTimeoutMs`): its streams end with it, and other replicas should not wait for the
   * entry to go stale. Every pending report() promise resolves.
   */
  async close(finalTimeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    const finals: Promise<void>[] = [];
    for (const [id, e] of this.entries) {
      if (e.timer) clearTimeout(e.timer);
      e.timer = undefined;
      for (const w of e.waiters.splice(0)) w();
      if (e.count > 0 || e.sentCount > 0) {
        e.count = 0;
        e.devices = [];
        finals.push((e.inFlight ?? Promise.resolve()).then(() => this.send(id, e)));
      }
    }
    await Promise.race([Promise.allSettled(finals), new Promise((ok) => setTimeout(ok, finalTimeoutMs).unref())]);
    this.entries.clear();
  }
}
