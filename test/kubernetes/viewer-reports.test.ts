/**
 * Viewer reports without a cluster (fake timers, fake API): a failed write is retried with backoff
 * long before the 60 s heartbeat; close() resolves every pending report and writes a last 0; entries
 * of replicas unseen for longer than the staleness window are removed when writing.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KubeClients } from '../../cluster-agent/runtime/kubernetes/kube-client.js';
import { VIEWERS_STALE_MS } from '../../cluster-agent/runtime/kubernetes/session-view.js';
import { ViewerReports } from '../../cluster-agent/runtime/kubernetes/viewer-reports.js';

type Body = { status: { viewers: Record<string, { count: number } | null> } };

function fakeApi(failures: number) {
  const sent: Body[] = [];
  let left = failures;
  const custom = {
    patchNamespacedCustomObjectStatus: async ({ body }: { body: Body }) => {
      if (left-- > 0) throw Object.assign(new Error('etcdserver: request timed out'), { code: 500 });
      sent.push(body);
      return {};
    },
  };
  return { clients: { custom } as unknown as KubeClients, sent };
}

describe('viewer reports', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a failed write with backoff, well before the heartbeat', async () => {
    const api = fakeApi(2);
    const v = new ViewerReports(api.clients, 'ns', 'replica-a', pino({ level: 'silent' }));
    void v.report('s1', 1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.sent.map((b) => b.status.viewers['replica-a'])).toEqual([expect.objectContaining({ count: 1 })]);
    await v.close();
  });

  it('close() resolves pending reports and writes a last 0 for sessions it reported viewers on', async () => {
    const api = fakeApi(0);
    const v = new ViewerReports(api.clients, 'ns', 'replica-a', pino({ level: 'silent' }));
    void v.report('s1', 2);
    await vi.advanceTimersByTimeAsync(0);
    const pending = v.report('s1', 3); // rate-limited: waits for the next send
    await v.close();
    await expect(pending).resolves.toBeUndefined();
    expect(api.sent.map((b) => b.status.viewers['replica-a']?.count)).toEqual([2, 0]);
  });

  it('writes the devices of the open streams beside the count, and none once they are closed', async () => {
    const api = fakeApi(0);
    const v = new ViewerReports(api.clients, 'ns', 'replica-a', pino({ level: 'silent' }));
    void v.report('s1', 2, ['kiosk-1', 'laptop']);
    await vi.advanceTimersByTimeAsync(0);
    void v.report('s1', 0, ['kiosk-1']); // a count of 0 has no device, whatever the caller says
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.sent.map((b) => b.status.viewers['replica-a'])).toEqual([
      expect.objectContaining({ count: 2, devices: ['kiosk-1', 'laptop'] }),
      expect.objectContaining({ count: 0, devices: [] }),
    ]);
    await v.close();
  });

  it("removes other replicas' entries older than the staleness window, keeps fresh ones", async () => {
    const api = fakeApi(0);
    const now = Date.now();
    const viewers = { dead: { count: 1, seenAt: new Date(now - VIEWERS_STALE_MS - 1000).toISOString() }, alive: { count: 1, seenAt: new Date(now).toISOString() } };
    const v = new ViewerReports(api.clients, 'ns', 'replica-a', pino({ level: 'silent' }), 1000, 60_000, () => viewers);
    void v.report('s1', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.sent[0]!.status.viewers).toEqual({ dead: null, 'replica-a': expect.objectContaining({ count: 1 }) });
    await v.close();
  });
});
