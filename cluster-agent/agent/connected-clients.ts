/**
 * Counts open streams per session, and the devices they come from, and tells the runtime, which
 * tracks connectedClients and lastActiveAt (what the idle reaper reads) and, with several replicas,
 * which devices show a desktop where. Reports are serialised per session so a quick open+close cannot
 * land at the runtime in the wrong order.
 */
import type { Logger } from 'pino';
import type { Runtime } from '../runtime/types.js';

export class ConnectedClients {
  private readonly counts = new Map<string, number>();
  /** per session: device id -> its open streams */
  private readonly devices = new Map<string, Map<string, number>>();
  private readonly reports = new Map<string, Promise<void>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly logger?: Logger,
  ) {}

  /** `device`: the viewer's device id, where it sent one */
  opened(id: string, device?: string): void {
    this.change(id, +1, device);
  }

  closed(id: string, device?: string): void {
    this.change(id, -1, device);
  }

  count(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  private change(id: string, delta: number, device: string | undefined): void {
    const n = Math.max(0, this.count(id) + delta);
    if (n === 0) this.counts.delete(id);
    else this.counts.set(id, n);
    const devices = this.changeDevice(id, delta, device);
    const previous = this.reports.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.runtime.setConnectedClients(id, n, devices))
      .catch((err: unknown) => this.logger?.warn({ err, session: id }, 'could not report connected clients'));
    this.reports.set(id, next);
    void next.finally(() => {
      if (this.reports.get(id) === next) this.reports.delete(id);
    });
  }

  /** Counts the device's stream in or out; answers the session's devices with an open stream now. */
  private changeDevice(id: string, delta: number, device: string | undefined): string[] {
    let byDevice = this.devices.get(id);
    if (device) {
      if (!byDevice) this.devices.set(id, (byDevice = new Map()));
      const left = (byDevice.get(device) ?? 0) + delta;
      if (left > 0) byDevice.set(device, left);
      else byDevice.delete(device);
      if (byDevice.size === 0) this.devices.delete(id);
    }
    return [...(this.devices.get(id)?.keys() ?? [])].sort();
  }

  /** Waits for reports in flight (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.reports.values());
  }
}
