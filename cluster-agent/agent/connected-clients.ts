/**
 * Counts open streams per session and tells the runtime, which tracks connectedClients and
 * lastActiveAt (what the idle reaper reads). Reports are serialised per session so a quick
 * open+close cannot land at the runtime in the wrong order.
 */
import type { Logger } from 'pino';
import type { Runtime } from '../runtime/types.js';

export class ConnectedClients {
  private readonly counts = new Map<string, number>();
  private readonly reports = new Map<string, Promise<void>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly logger?: Logger,
  ) {}

  opened(id: string): void {
    this.change(id, +1);
  }

  closed(id: string): void {
    this.change(id, -1);
  }

  count(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  private change(id: string, delta: number): void {
    const n = Math.max(0, this.count(id) + delta);
    if (n === 0) this.counts.delete(id);
    else this.counts.set(id, n);
    const previous = this.reports.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.runtime.setConnectedClients(id, n))
      .catch((err: unknown) => this.logger?.warn({ err, session: id }, 'could not report connected clients'));
    this.reports.set(id, next);
    void next.finally(() => {
      if (this.reports.get(id) === next) this.reports.delete(id);
    });
  }

  /** Waits for reports in flight (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.reports.values());
  }
}
