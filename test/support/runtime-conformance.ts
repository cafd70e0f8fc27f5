/**
 * What every runtime promises the agent (cluster-agent/runtime/types.ts), as one suite that runs
 * against each runtime: the local one on real sandboxed Xvnc desktops, the kubernetes one on a real
 * control plane. The HTTP layer, the gateway and the idle reaper rely on exactly these behaviours.
 */
import { describe, expect, it } from 'vitest';
import type { Session } from '../../cluster-agent/contract/index.js';
import { RuntimeError, type Runtime } from '../../cluster-agent/runtime/types.js';
import { waitFor } from './processes.js';

export interface ConformanceTarget {
  /** a fresh, initialised runtime (the suite closes nothing: the file's afterAll does) */
  runtime: Runtime;
  /** a template of this runtime that starts */
  template: string;
  /** a user name not used by any other test of the file */
  user: () => string;
  /** how long a start may take here (KWOK pods are slower than local desktops) */
  startTimeoutMs: number;
}

export function describeRuntimeConformance(name: string, target: () => Promise<ConformanceTarget>, timeoutMs = 120_000): void {
  const running = async (t: ConformanceTarget, id: string): Promise<Session> =>
    waitFor(`${id} Running`, async () => {
      const s = await t.runtime.get(id);
      if (s?.phase === 'Failed') throw new Error(`${id} failed: ${s.message}`);
      return s?.phase === 'Running' ? s : undefined;
    }, t.startTimeoutMs, 100);
  const ended = async (t: ConformanceTarget, id: string): Promise<Session> =>
    waitFor(`${id} Stopped`, async () => {
      const s = await t.runtime.get(id);
      return s?.phase === 'Stopped' ? s : undefined;
    }, t.startTimeoutMs, 100);

  describe(`runtime conformance: ${name}`, { timeout: timeoutMs }, () => {
    it('start-or-get: concurrent calls of one user and template share one session, announced by events, that reaches Running', async () => {
      const t = await target();
      const user = t.user();
      const seen: string[] = [];
      const onSession = (s: Session) => {
        if (s.user === user) seen.push(s.phase);
      };
      t.runtime.on('session', onSession);
      try {
        const results = await Promise.all(Array.from({ length: 5 }, () => t.runtime.startOrGet(user, t.template)));
        expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const id = results[0]!.session.id;
        const s = await running(t, id);
        expect(s).toMatchObject({ id, user, template: t.template, connectedClients: 0 });
        expect(s.startedAt).toBeDefined();
        expect(await t.runtime.startOrGet(user, t.template)).toMatchObject({ created: false, session: { id } });
        expect((await t.runtime.list()).filter((x) => x.user === user)).toHaveLength(1);
        await waitFor('a Running event', () => seen.includes('Running') || undefined, 10_000, 50);
        await t.runtime.stop(id);
      } finally {
        t.runtime.off('session', onSession);
      }
    });

    it('gives a stream endpoint only while Running, and answers unknown ids with not_found', async () => {
      const t = await target();
      const { session } = await t.runtime.startOrGet(t.user(), t.template);
      await running(t, session.id);
      const endpoint = await t.runtime.streamEndpoint(session.id, 'vnc');
      expect(endpoint.password.length).toBeGreaterThanOrEqual(8);
      expect(await t.runtime.get('s-doesnotexist')).toBeUndefined();
      await expect(t.runtime.stop('s-doesnotexist')).rejects.toMatchObject({ code: 'not_found' });
      await expect(t.runtime.streamEndpoint('s-doesnotexist', 'vnc')).rejects.toBeInstanceOf(RuntimeError);
      await t.runtime.stop(session.id);
      await ended(t, session.id);
      await expect(t.runtime.streamEndpoint(session.id, 'vnc')).rejects.toMatchObject({ code: expect.stringMatching(/not_ready|not_found/) });
    });

    it('stops only what a stop was decided on: not a watched session, not a newer incarnation; a stop is idempotent', async () => {
      const t = await target();
      const { session } = await t.runtime.startOrGet(t.user(), t.template);
      const s = await running(t, session.id);
      const decided = { createdAt: s.createdAt, ...(s.startedAt ? { startedAt: s.startedAt } : {}) };
      await t.runtime.setConnectedClients(s.id, 1);
      await waitFor('the viewer counted', async () => (await t.runtime.get(s.id))?.connectedClients === 1 || undefined, 10_000, 50);
      await t.runtime.stop(s.id, 'Idle', { ...decided, idleTimeoutSeconds: 1 });
      expect((await t.runtime.get(s.id))?.phase).toBe('Running');
      await t.runtime.stop(s.id, 'Idle', { createdAt: '2020-01-01T00:00:00Z' });
      expect((await t.runtime.get(s.id))?.phase).toBe('Running');
      await t.runtime.setConnectedClients(s.id, 0);
      await Promise.all([t.runtime.stop(s.id, 'Stopped by the test', decided), t.runtime.stop(s.id, 'Stopped by the test', decided)]);
      const stopped = await ended(t, s.id);
      expect(stopped.message).toBe('Stopped by the test');
      await t.runtime.stop(s.id); // again: nothing to do, no error
      expect((await t.runtime.get(s.id))?.phase).toBe('Stopped');
    });

    it('starts a new session after a stop, and refuses an unknown template', async () => {
      const t = await target();
      const user = t.user();
      const first = await t.runtime.startOrGet(user, t.template);
      await running(t, first.session.id);
      await t.runtime.stop(first.session.id);
      await ended(t, first.session.id);
      // A new session (the kubernetes runtime reuses the name it derives from user and template).
      const next = await t.runtime.startOrGet(user, t.template);
      expect(next.created).toBe(true);
      expect(next.session.phase).not.toBe('Stopped');
      await running(t, next.session.id);
      await t.runtime.stop(next.session.id);
      await expect(t.runtime.startOrGet(user, 'no-such-template')).rejects.toMatchObject({ code: 'not_found' });
    });
  });
}
