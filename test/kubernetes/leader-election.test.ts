/**
 * Leader election without a cluster: the step-down rule as a pure function, and the elector against a
 * fake Lease API whose requests hang (fake timers, so the rule is checked exactly, not by speed).
 */
import type { V1Lease } from '@kubernetes/client-node';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KubeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { LeaderElector, stepDownAt, withTimeout } from '../../cluster-agent/runtime/kubernetes/leader-election.js';
import { WorkQueue } from '../../cluster-agent/runtime/kubernetes/work-queue.js';

const log = pino({ level: 'silent' });
const never = <T>() => new Promise<T>(() => undefined);

/** A Lease API: the first read is NotFound and the create succeeds; after that, `hang` decides. */
function fakeLeaseApi() {
  const calls: string[] = [];
  let lease: V1Lease | undefined;
  let rv = 0;
  const state = { hang: false };
  const coordination = {
    readNamespacedLease: async () => {
      calls.push('read');
      if (state.hang) return never<V1Lease>();
      if (!lease) throw Object.assign(new Error('not found'), { code: 404 });
      return structuredClone(lease);
    },
    createNamespacedLease: async ({ body }: { body: V1Lease }) => {
      calls.push('create');
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(lease);
    },
    replaceNamespacedLease: async ({ body }: { body: V1Lease }) => {
      calls.push(`replace:${body.spec?.holderIdentity ?? ''}`);
      if (state.hang) return never<V1Lease>();
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(lease);
    },
  };
  return { clients: { coordination } as unknown as KubeClients, calls, state };
}

describe('leader step-down rule', () => {
  it('stops leading a margin before the Lease could be taken over, counted from when the renew was sent', () => {
    expect(stepDownAt(1_000, 15_000, 5_000)).toBe(11_000);
    // The margin is kept inside the duration: a leader never outlives its own Lease.
    expect(stepDownAt(1_000, 15_000, 0)).toBeLessThan(16_000);
    expect(stepDownAt(1_000, 15_000, 99_000)).toBeGreaterThan(1_000);
  });

  it('withTimeout rejects a request that does not answer, and passes answers through', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
    await expect(withTimeout(new Promise(() => undefined), 10, 'reading the Lease')).rejects.toThrow(/reading the Lease took longer than 10 ms/);
  });
});

describe('leader elector', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a leader whose renew requests hang stops leading before the lease duration is over', async () => {
    const api = fakeLeaseApi();
    const stopped = vi.fn();
    const e = new LeaderElector({ clients: api.clients, namespace: 'ns', name: 'l', identity: 'me', leaseDurationMs: 15_000, log, onStartedLeading: () => undefined, onStoppedLeading: stopped });
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader).toBe(true);
    api.state.hang = true; // the API server stops answering (or this process is cut off)
    await vi.advanceTimersByTimeAsync(9_999);
    expect(e.isLeader).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    // 15 s duration, renewed at 0: another replica may take over at 15 s at the earliest; we stop at 10 s.
    expect(e.isLeader).toBe(false);
    expect(stopped).toHaveBeenCalledTimes(1);
    await e.stop();
  });

  it('stop() waits for the running reconciles (queue drain) before handing the Lease back', async () => {
    const api = fakeLeaseApi();
    let finishReconcile!: () => void;
    const q = new WorkQueue(() => new Promise<void>((ok) => (finishReconcile = ok)));
    const e = new LeaderElector({
      clients: api.clients,
      namespace: 'ns',
      name: 'l',
      identity: 'me',
      log,
      onStartedLeading: () => q.start(),
      onStoppedLeading: async () => {
        q.stop();
        api.calls.push('stopped queue');
        await q.drain();
        api.calls.push('drained');
      },
    });
    e.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(e.isLeader).toBe(true);
    q.add('session:a');
    await vi.advanceTimersByTimeAsync(0);
    const stopping = e.stop();
    await vi.advanceTimersByTimeAsync(100);
    expect(api.calls).not.toContain('replace:'); // the reconcile still runs: the Lease is still ours
    finishReconcile();
    await stopping;
    expect(api.calls.slice(-4)).toEqual(['stopped queue', 'drained', 'read', 'replace:']);
  });
});
