/**
 * Leader election on a coordination.k8s.io Lease, the way client-go does it: the holder renews the
 * Lease every `renewEveryMs`; another replica takes it over only after it has seen the Lease record
 * unchanged for `leaseDurationMs` by its own clock (so clocks need not agree). Every write is an
 * update with the resourceVersion read, so two replicas can never both win the same round.
 *
 * A leader stops leading by its own clock, not only when a request fails: every successful renew arms
 * a timer at (start of that renew + lease duration - margin), see `stepDownAt`, so a leader whose renew
 * hangs or whose process was paused stops reconciling before another replica can take the Lease over.
 * Every Lease request is raced against a timeout (`requestTimeoutMs`): client-node 1.3's HTTP library
 * passes no AbortSignal to fetch, so a timed-out request is abandoned, not aborted. An abandoned write
 * that lands later is harmless: it can only have made us the holder, which the next round reads.
 */
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClients } from './kube-client.js';

export interface LeaderElectionOptions {
  clients: KubeClients;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewEveryMs?: number;
  retryEveryMs?: number;
  /** how long one Lease request may take before it is given up; default half the renew interval */
  requestTimeoutMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  /** stop() awaits it before handing the Lease back (the runtime waits for running reconciles there) */
  onStoppedLeading: () => void | Promise<void>;
}

/** Pure: may `identity` take the Lease, given what it holds and how long we have seen it unchanged? */
export function mayAcquire(lease: V1Lease | undefined, identity: string, unchangedForMs: number, leaseDurationMs: number): boolean {
  const holder = lease?.spec?.holderIdentity;
  if (!lease || !holder || holder === identity) return true;
  const duration = (lease.spec?.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
  return unchangedForMs >= duration;
}

/**
 * Pure: the moment a leader must stop leading if it has not renewed again, given when its last
 * successful renew was *sent* (the Lease's renewTime cannot be older than that) and a safety margin.
 * Another replica takes over no earlier than a whole lease duration after it saw that write by its
 * own clock, so stepping down `marginMs` before that leaves room for clock-rate drift and for the
 * reconciles in flight to finish. The margin must be positive and smaller than the duration.
 */
export function stepDownAt(renewSentAt: number, leaseDurationMs: number, marginMs: number): number {
  const margin = Math.min(Math.max(marginMs, 1), leaseDurationMs - 1);
  return renewSentAt + leaseDurationMs - margin;
}

/** Resolves or rejects as `p` does, or rejects after `ms` (the request is abandoned, not aborted). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms; given up`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private stepDownTimer?: NodeJS.Timeout;
  /** the record (resourceVersion) we last saw and when we first saw it */
  private observed?: { rv: string; at: number };
  private readonly duration: number;
  private readonly renewEvery: number;
  private readonly retryEvery: number;
  private readonly requestTimeout: number;
  /** stop leading this long before the Lease could be taken over (client-go: duration 15 s, renew deadline 10 s) */
  private readonly margin: number;

  constructor(private readonly o: LeaderElectionOptions) {
    this.duration = o.leaseDurationMs ?? 15_000;
    this.renewEvery = o.renewEveryMs ?? Math.max(500, Math.floor(this.duration / 3));
    this.retryEvery = o.retryEveryMs ?? Math.max(500, Math.floor(this.duration / 5));
    this.requestTimeout = o.requestTimeoutMs ?? Math.max(500, Math.floor(this.renewEvery / 2));
    this.margin = Math.floor(this.duration / 3);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  /** Stops competing; a leader hands the Lease back so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.stepDownTimer) clearTimeout(this.stepDownTimer);
    if (!this.leading) return;
    // Whatever the leader is doing finishes before anyone else may start.
    await this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity === this.o.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.call(this.o.clients.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease }), 'releasing the Lease');
      }
    } catch (err) {
      this.o.log.warn({ err }, 'could not release the leader Lease; another replica takes over when it expires');
    }
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.call(this.o.clients.coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace }), 'reading the Lease');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let next = this.leading ? this.renewEvery : this.retryEvery;
    try {
      const held = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      void this.setLeading(held);
      if (held) next = this.renewEvery;
    } catch (err) {
      if (this.stopped) return;
      // The step-down timer ends leadership in time whatever the requests do; this only logs.
      this.o.log.warn({ err: err instanceof Error ? err.message : err }, 'leader election: could not read or renew the Lease');
    }
    this.timer = setTimeout(() => void this.tick(), next);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const lease = await this.read();
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.duration / 1000),
      renewTime: new V1MicroTime(now),
    };
    if (!lease) {
      try {
        const created = await this.call(this.o.clients.coordination.createNamespacedLease({
          namespace: this.o.namespace,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: { ...spec, acquireTime: new V1MicroTime(now), leaseTransitions: 0 } },
        }), 'creating the Lease');
        this.observed = { rv: created.metadata?.resourceVersion ?? '', at: now };
        this.renewed(now);
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another replica created it first
        throw err;
      }
    }
    const rv = lease.metadata?.resourceVersion ?? '';
    if (this.observed?.rv !== rv) this.observed = { rv, at: now };
    const mine = lease.spec?.holderIdentity === this.o.identity;
    if (!mine && !mayAcquire(lease, this.o.identity, now - this.observed.at, this.duration)) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(mine ? {} : { acquireTime: new V1MicroTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      const updated = await this.call(this.o.clients.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body }), 'renewing the Lease');
      this.observed = { rv: updated.metadata?.resourceVersion ?? '', at: now };
      this.renewed(now);
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote it between our read and our update
      throw err;
    }
  }

  private call<T>(p: Promise<T>, what: string): Promise<T> {
    return withTimeout(p, this.requestTimeout, what);
  }

  /** A renew sent at `sentAt` succeeded: lead until stepDownAt unless the next renew succeeds first. */
  private renewed(sentAt: number): void {
    if (this.stopped) return;
    if (this.stepDownTimer) clearTimeout(this.stepDownTimer);
    const at = stepDownAt(sentAt, this.duration, this.margin);
    this.stepDownTimer = setTimeout(() => {
      if (!this.leading || this.stopped) return;
      this.o.log.warn({ identity: this.o.identity, lease: this.o.name }, 'could not renew the leader Lease in time; stepping down before another replica may take it');
      void this.setLeading(false);
    }, Math.max(0, at - Date.now()));
    this.stepDownTimer.unref();
  }

  private async setLeading(v: boolean): Promise<void> {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log.info({ identity: this.o.identity, lease: this.o.name }, v ? 'became the reconciler leader' : 'stopped leading the reconciler');
    if (v) {
      this.o.onStartedLeading();
      return;
    }
    if (this.stepDownTimer) clearTimeout(this.stepDownTimer);
    try {
      await this.o.onStoppedLeading();
    } catch (err) {
      this.o.log.warn({ err }, 'stopping the reconciler failed');
    }
  }
}
