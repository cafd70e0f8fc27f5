/**
 * Leader election on a coordination.k8s.io Lease, the way client-go does it: the holder renews the
 * Lease every `renewEveryMs`; another replica takes it over only after it has seen the Lease record
 * unchanged for `leaseDurationMs` by its own clock (so clocks need not agree). Every write is an
 * update with the resourceVersion read, so two replicas can never both win the same round.
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
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** Pure: may `identity` take the Lease, given what it holds and how long we have seen it unchanged? */
export function mayAcquire(lease: V1Lease | undefined, identity: string, unchangedForMs: number, leaseDurationMs: number): boolean {
  const holder = lease?.spec?.holderIdentity;
  if (!lease || !holder || holder === identity) return true;
  const duration = (lease.spec?.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
  return unchangedForMs >= duration;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  /** the record (resourceVersion) we last saw and when we first saw it */
  private observed?: { rv: string; at: number };
  private readonly duration: number;
  private readonly renewEvery: number;
  private readonly retryEvery: number;

  constructor(private readonly o: LeaderElectionOptions) {
    this.duration = o.leaseDurationMs ?? 15_000;
    this.renewEvery = o.renewEveryMs ?? Math.max(500, Math.floor(this.duration / 3));
    this.retryEvery = o.retryEveryMs ?? Math.max(500, Math.floor(this.duration / 5));
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
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity === this.o.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.o.clients.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
      }
    } catch (err) {
      this.o.log.warn({ err }, 'could not release the leader Lease; another replica takes over when it expires');
    }
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.o.clients.coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
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
      this.setLeading(held);
      if (held) next = this.renewEvery;
    } catch (err) {
      if (this.stopped) return;
      // A leader that cannot renew must assume it lost the Lease before anyone else can take it.
      const lastRenew = this.observed?.at ?? 0;
      if (this.leading && Date.now() - lastRenew > this.duration - this.renewEvery) this.setLeading(false);
      this.o.log.warn({ err }, 'leader election: could not read or renew the Lease');
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
        const created = await this.o.clients.coordination.createNamespacedLease({
          namespace: this.o.namespace,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: { ...spec, acquireTime: new V1MicroTime(now), leaseTransitions: 0 } },
        });
        this.observed = { rv: created.metadata?.resourceVersion ?? '', at: now };
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
      const updated = await this.o.clients.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body });
      this.observed = { rv: updated.metadata?.resourceVersion ?? '', at: now };
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote it between our read and our update
      throw err;
    }
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log.info({ identity: this.o.identity, lease: this.o.name }, v ? 'became the reconciler leader' : 'stopped leading the reconciler');
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }
}
