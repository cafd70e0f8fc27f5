/**
 * restartPolicy OnFailure: one non-zero exit is the kubelet's to restart, not a failed session. Failed/
 * Crashed (with the exit code) on CrashLoopBackOff, after CRASH_RESTARTS restarts, or a Failed pod.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { sessionName, type SessionCRStatus, type SessionResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession } from '../../cluster-agent/kubernetes/session-objects.js';
import { CRASH_RESTARTS, deriveStatus } from '../../cluster-agent/runtime/kubernetes/session-status.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
function session(status?: SessionCRStatus): SessionResource {
  const s = buildSession(sessionName('alice', 'xfce'), 'ns', 'alice', 'xfce');
  s.metadata.uid = 'u';
  s.metadata.creationTimestamp = new Date(T0).toISOString() as unknown as Date;
  if (status) s.status = status;
  return s;
}
function pod(phase: string, c: Partial<V1ContainerStatus>): V1Pod {
  return {
    metadata: { name: 'p' },
    spec: { nodeName: 'n1', containers: [{ name: 'desktop' }] },
    status: { phase, podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'desktop', image: 'img', imageID: '', ready: false, restartCount: 0, ...c }] },
  };
}
const input = (s: SessionResource, p: V1Pod) => ({ session: s, pod: p, now: T0 + 5000, startTimeoutMs: 60_000 });
const exited = { terminated: { exitCode: 1, reason: 'Error', message: 'Xvnc exited' } };

describe('crash rule (restartPolicy OnFailure)', () => {
  it('a first non-zero exit while starting or running is a restart, not a failure', () => {
    expect(deriveStatus(input(session(), pod('Pending', { state: exited, restartCount: 0 })))).toMatchObject({ phase: 'Starting', message: expect.stringMatching(/exit code 1.*starting it again/) });
    expect(deriveStatus(input(session({ phase: 'Running', startedAt: 'x' }), pod('Running', { state: exited, restartCount: 1 })))).toMatchObject({ phase: 'Running' });
  });

  it(`Failed/Crashed with the exit code after ${CRASH_RESTARTS} restarts, on CrashLoopBackOff, or when the pod is Failed`, () => {
    const many = deriveStatus(input(session({ phase: 'Running', startedAt: 'x' }), pod('Running', { state: { running: {} }, lastState: exited, restartCount: CRASH_RESTARTS })));
    expect(many).toMatchObject({ phase: 'Failed', reason: 'Crashed', message: expect.stringMatching(/exit code 1, Error: Xvnc exited, restarted 3 times/) });
    const loop = deriveStatus(input(session(), pod('Running', { state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: exited, restartCount: 5 })));
    expect(loop).toMatchObject({ phase: 'Failed', reason: 'Crashed', message: expect.stringMatching(/keeps crashing \(exit code 1, Error\)/) });
    const gaveUp = deriveStatus(input(session(), pod('Failed', { state: exited })));
    expect(gaveUp).toMatchObject({ phase: 'Failed', reason: 'Crashed', message: expect.stringMatching(/exit code 1, Error: Xvnc exited/) });
  });
});
