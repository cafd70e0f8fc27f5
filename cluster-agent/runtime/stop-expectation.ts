/**
 * The one rule both runtimes apply before a stop that was decided on an older view of a session
 * (the idle reaper's list, a DELETE that read the session first). Pure.
 */
import type { Session } from '../contract/index.js';
import type { StopExpectation } from './types.js';

/** Seconds since anyone last watched the session (or since it started), at `now`; undefined if unknown. */
export function idleSecondsOf(s: Session, now: number): number | undefined {
  const since = Date.parse(s.lastActiveAt ?? s.startedAt ?? s.phaseSince);
  return Number.isNaN(since) ? undefined : Math.floor((now - since) / 1000);
}

/** A Running session nobody watches whose idle time reached `timeoutSeconds` (0 = never idle). */
export function isIdleFor(s: Session, timeoutSeconds: number, now: number): boolean {
  if (s.phase !== 'Running' || s.connectedClients > 0 || !timeoutSeconds) return false;
  const idle = idleSecondsOf(s, now);
  return idle !== undefined && idle >= timeoutSeconds;
}

const sameTime = (a: string | undefined, b: string) => a !== undefined && Date.parse(a) === Date.parse(b);

/**
 * 'stop' when the session is still what the caller decided about; 'replaced' when it is another
 * incarnation (a fresh restart under the same id); 'busy' when it was to stop for idleness and someone
 * has watched it since.
 */
export function stopVerdict(s: Session, expect: StopExpectation, now: number): 'stop' | 'replaced' | 'busy' {
  if ((expect.createdAt !== undefined && !sameTime(s.createdAt, expect.createdAt)) || (expect.startedAt !== undefined && !sameTime(s.startedAt, expect.startedAt))) return 'replaced';
  if (expect.idleTimeoutSeconds !== undefined && !isIdleFor(s, expect.idleTimeoutSeconds, now)) return 'busy';
  return 'stop';
}
