import { describe, expect, it } from 'vitest';
import type { SessionPhase } from '../../cluster-agent/contract/index.js';
import { StreamController, WAIT_POLL_MS, type SessionCheck, type StreamHandlers, type StreamStatus } from '../../renderer/src/session/streamController.js';

/** A hand-driven clock and a fake stream opener that records what the controller did. */
function harness(options: { phases?: SessionCheck[]; failUrls?: number; elsewhereUnlessTakeOver?: () => boolean } = {}) {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextTimer = 1;
  const statuses: StreamStatus[] = [];
  const opened: { url: string; handlers: StreamHandlers; closed: boolean }[] = [];
  const phases = [...(options.phases ?? [])];
  let urlCount = 0;
  let failUrls = options.failUrls ?? 0;
  const takeOvers: boolean[] = [];
  const controller = new StreamController({
    fetchConnect: async (takeOver) => {
      takeOvers.push(takeOver);
      if (!takeOver && options.elsewhereUnlessTakeOver?.()) throw Object.assign(new Error('You opened this desktop on another device.'), { code: 'opened_elsewhere' });
      if (failUrls > 0) {
        failUrls--;
        throw new Error('The agent is not reachable.');
      }
      return `ws://agent/vnc?token=t${++urlCount}`;
    },
    checkSession: async () => phases.shift() ?? { phase: 'Running' },
    open: (url, handlers) => {
      const entry = { url, handlers, closed: false };
      opened.push(entry);
      return { close: () => (entry.closed = true) };
    },
    onStatus: (s) => statuses.push(s),
    random: () => 0.5,
    now: () => now,
    setTimer: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (id) => timers.delete(id as number),
  });
  const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  return {
    controller,
    statuses,
    opened,
    takeOvers,
    get status() {
      return controller.current;
    },
    pendingTimers: () => [...timers.values()].map((t) => t.at - now),
    async advance(ms: number) {
      now += ms;
      for (const [id, timer] of [...timers]) {
        if (timer.at <= now) {
          timers.delete(id);
          timer.fn();
        }
      }
      await flush();
      await flush();
    },
    flush,
  };
}

describe('StreamController', () => {
  it('waits while the session starts, then connects once it runs', async () => {
    const h = harness();
    h.controller.setPhase('Pending');
    h.controller.setPhase('Starting');
    await h.flush();
    expect(h.opened).toHaveLength(0);
    expect(h.status).toEqual({ kind: 'waiting' });
    h.controller.setPhase('Running');
    await h.flush();
    expect(h.opened.map((o) => o.url)).toEqual(['ws://agent/vnc?token=t1']);
    h.opened[0]!.handlers.onConnect();
    expect(h.status).toEqual({ kind: 'connected' });
  });

  it('reconnects after a drop with growing delays, each time with a new URL', async () => {
    const h = harness();
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onConnect();

    h.opened[0]!.handlers.onDisconnect('The connection to the desktop was interrupted.');
    expect(h.status).toMatchObject({ kind: 'retrying', attempt: 1, retryAt: 500, problem: 'The connection to the desktop was interrupted.' });
    await h.advance(499);
    expect(h.opened).toHaveLength(1);
    await h.advance(1);
    expect(h.opened.map((o) => o.url)).toEqual(['ws://agent/vnc?token=t1', 'ws://agent/vnc?token=t2']);

    // the second attempt fails before connecting: the next wait doubles
    h.opened[1]!.handlers.onDisconnect();
    expect(h.status).toMatchObject({ kind: 'retrying', attempt: 2 });
    expect(h.pendingTimers()).toEqual([1000]);
    await h.advance(1000);
    h.opened[2]!.handlers.onConnect();
    expect(h.status).toEqual({ kind: 'connected' });

    // a success resets the schedule
    h.opened[2]!.handlers.onDisconnect();
    expect(h.pendingTimers()).toEqual([500]);
  });

  it('keeps trying while the agent is away, capped at 10 s', async () => {
    const h = harness({ failUrls: 8 });
    h.controller.setPhase('Running');
    await h.flush();
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(h.status.kind).toBe('retrying');
      const wait = h.pendingTimers()[0]!;
      waits.push(wait);
      await h.advance(wait);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
    expect(h.status).toEqual({ kind: 'connecting', attempt: 8 });
    expect(h.opened).toHaveLength(1);
  });

  it('"Reconnect now" skips the wait', async () => {
    const h = harness();
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onDisconnect();
    h.controller.retryNow();
    await h.flush();
    await h.flush();
    expect(h.opened).toHaveLength(2);
    expect(h.pendingTimers()).toEqual([]);
  });

  it('stops retrying and explains when the session failed or stopped', async () => {
    const h = harness({ phases: [{ phase: 'Failed', message: 'The image could not be pulled. Ask your administrator to check the template.' }] });
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onDisconnect();
    await h.advance(500);
    expect(h.status).toEqual({ kind: 'ended', message: 'The image could not be pulled. Ask your administrator to check the template.' });
    expect(h.pendingTimers()).toEqual([]);
    // nothing brings an ended stream back
    h.controller.setPhase('Running');
    await h.flush();
    expect(h.opened).toHaveLength(1);
  });

  it('closes the stream when the session is stopped elsewhere', async () => {
    const h = harness();
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onConnect();
    h.controller.setPhase('Stopping');
    expect(h.opened[0]!.closed).toBe(true);
    expect(h.status.kind).toBe('ended');
    expect((h.status as { message: string }).message).toMatch(/stopped/);
  });

  it('ends when the session is gone', async () => {
    const h = harness({ phases: [{ phase: undefined }] });
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onDisconnect();
    await h.advance(500);
    expect(h.status).toMatchObject({ kind: 'ended', message: expect.stringMatching(/no longer exists/) });
  });

  it('waits (and looks again) when the session is restarting after a drop', async () => {
    const phases: SessionCheck[] = [{ phase: 'Starting' as SessionPhase }, { phase: 'Starting' as SessionPhase }];
    const h = harness({ phases });
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onDisconnect();
    await h.advance(500);
    expect(h.status).toEqual({ kind: 'waiting' });
    await h.advance(WAIT_POLL_MS);
    expect(h.status).toEqual({ kind: 'waiting' });
    await h.advance(WAIT_POLL_MS); // the list now says Running
    expect(h.opened).toHaveLength(2);
  });

  it('ignores late events from streams it already replaced or closed', async () => {
    const h = harness();
    h.controller.setPhase('Running');
    await h.flush();
    const first = h.opened[0]!;
    first.handlers.onDisconnect();
    await h.advance(500);
    h.opened[1]!.handlers.onConnect();
    first.handlers.onDisconnect();
    first.handlers.onConnect();
    expect(h.status).toEqual({ kind: 'connected' });
    h.controller.dispose();
    expect(h.opened[1]!.closed).toBe(true);
    const count = h.statuses.length;
    h.opened[1]!.handlers.onDisconnect();
    expect(h.statuses).toHaveLength(count);
    expect(h.pendingTimers()).toEqual([]);
  });
});

describe('roaming: the desktop opened on another device', () => {
  it('takes over on the first open and on "Reconnect now", never on an automatic reconnect; ends saying why, and "Open it here" takes it back', async () => {
    let elsewhere = false;
    const h = harness({ elsewhereUnlessTakeOver: () => elsewhere });
    h.controller.setPhase('Running');
    await h.flush();
    h.opened[0]!.handlers.onConnect();
    expect(h.takeOvers).toEqual([true]);

    // Another device opened it: this stream drops, and the automatic reconnect is refused.
    elsewhere = true;
    h.opened[0]!.handlers.onDisconnect('closed');
    await h.advance(10_000);
    expect(h.takeOvers).toEqual([true, false]);
    expect(h.status).toEqual({ kind: 'ended', message: 'You opened this desktop on another device.', openedElsewhere: true });
    await h.advance(60_000);
    expect(h.takeOvers).toHaveLength(2); // and it stays ended: no taking it back by itself

    h.controller.openHere();
    await h.flush();
    await h.flush();
    expect(h.takeOvers).toEqual([true, false, true]);
    expect(h.opened).toHaveLength(2);
    h.opened[1]!.handlers.onConnect();
    expect(h.status).toEqual({ kind: 'connected' });
  });
});
