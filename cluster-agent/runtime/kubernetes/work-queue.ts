/**
 * A controller work queue: keys, not events. A key queued twice before it is processed is processed
 * once; a key is never processed by two workers at once (a key added while it is being processed is
 * processed again afterwards); a failed key is retried with exponential backoff; a key can ask to be
 * looked at again after a delay (deadlines) without polling anything else.
 */

export interface WorkQueueOptions {
  /** first retry delay; doubles per consecutive failure of the key up to maxBackoffMs */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  concurrency?: number;
  onError?: (key: string, err: unknown, attempt: number) => void;
}

/** What a handler returns: nothing (done), or "look again in this many ms". */
export type HandlerResult = void | { requeueAfterMs: number };

/** Pure: the delay before retry number `failures` (1 = first retry). */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** added while active: goes back in the queue when the current run ends */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = false;
  private readonly base: number;
  private readonly max: number;
  private readonly concurrency: number;
  private idleWaiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<HandlerResult>,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.base = opts.baseBackoffMs ?? 200;
    this.max = opts.maxBackoffMs ?? 30_000;
    this.concurrency = opts.concurrency ?? 4;
  }

  /** Start processing (keys added while stopped wait). */
  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stop taking keys and forget everything queued or scheduled (a new leader re-lists). */
  stop(): void {
    this.running = false;
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.failures.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  get isRunning(): boolean {
    return this.running;
  }

  add(key: string): void {
    if (!this.running) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Add after a delay; an earlier pending delay for the key wins over a later one. */
  addAfter(key: string, ms: number): void {
    if (!this.running) return;
    const existing = this.timers.get(key) as (NodeJS.Timeout & { dueAt?: number }) | undefined;
    const dueAt = Date.now() + ms;
    if (existing && (existing.dueAt ?? Infinity) <= dueAt) return;
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms) as NodeJS.Timeout & { dueAt?: number };
    t.dueAt = dueAt;
    t.unref();
    this.timers.set(key, t);
  }

  /**
   * Resolves when no handler is running. After stop() nothing new starts, so this is "every reconcile
   * begun while leading has finished": a leader waits for it before handing the Lease back.
   */
  drain(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((ok) => this.drainWaiters.push(ok));
  }

  /** Resolves when nothing is queued or being processed (tests). Scheduled retries do not count. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((ok) => this.idleWaiters.push(ok));
  }

  private pump(): void {
    while (this.running && this.active.size < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      void this.process(key);
    }
    if (this.active.size === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
    if (this.queue.length === 0 && this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && this.running) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError?.(key, err, n);
      // A handler may ask for its retry no later than a deadline of its own (a session's start timeout).
      const cap = (err as { retryWithinMs?: unknown } | null)?.retryWithinMs;
      const delay = Math.min(backoffDelay(n, this.base, this.max), typeof cap === 'number' ? cap : Infinity);
      if (this.running) this.addAfter(key, delay);
    } finally {
      this.active.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
