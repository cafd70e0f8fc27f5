/**
 * Writes this replica's open-stream count per session into Session status.viewers[<replica>] so every
 * replica's idle reaper sees viewers on any replica. Rate-limited per session (the latest count wins,
 * at most one write per `minIntervalMs`), and re-sent every `heartbeatMs` while streams are open so
 * the entry does not go stale.
 */
import type { Logger } from 'pino';
import { GROUP, SESSION_PLURAL, VERSION } from '../../kubernetes/resources.js';
import { isNotFound, mergePatch, type KubeClients } from './kube-client.js';

interface Entry {
  count: number;
  lastSent: number;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
}

export class ViewerReports {
  private readonly entries = new Map<string, Entry>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly replica: string,
    private readonly log: Logger,
    private readonly minIntervalMs = 1000,
    heartbeatMs = 60_000,
  ) {
    this.heartbeat = setInterval(() => {
      for (const [id, e] of this.entries) if (e.count > 0) this.schedule(id, e);
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  report(id: string, count: number): Promise<void> {
    const e = this.entries.get(id) ?? { count, lastSent: 0 };
    e.count = count;
    this.entries.set(id, e);
    return this.schedule(id, e);
  }

  private schedule(id: string, e: Entry): Promise<void> {
    if (e.timer) return Promise.resolve();
    const wait = Math.max(0, e.lastSent + this.minIntervalMs - Date.now());
    return new Promise((ok) => {
      e.timer = setTimeout(() => {
        e.timer = undefined;
        const run = (e.inFlight ?? Promise.resolve()).then(() => this.send(id, e));
        e.inFlight = run;
        void run.finally(() => {
          if (e.inFlight === run) e.inFlight = undefined;
          ok();
        });
      }, wait);
      e.timer.unref();
    });
  }

  private async send(id: string, e: Entry): Promise<void> {
    const at = new Date().toISOString();
    e.lastSent = Date.now();
    const count = e.count;
    try {
      await this.clients.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace: this.namespace, plural: SESSION_PLURAL, name: id, body: { status: { viewers: { [this.replica]: { count, seenAt: at } }, lastActiveAt: at } } },
        mergePatch(),
      );
    } catch (err) {
      if (isNotFound(err)) {
        this.entries.delete(id);
        return;
      }
      this.log.warn({ err, session: id }, 'could not record viewers');
    }
    if (count === 0 && e.count === 0 && !e.timer) this.entries.delete(id);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }
}
