/** Human-friendly durations for progress and session rows. */

/** "4 s", "1 min 05 s", "2 h 03 min". */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${String(total % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** "Usually ready in about 8 s" / "... about 2 min"; undefined when there is no estimate. */
export function expectedStartHint(expectedStartSeconds: number | undefined): string | undefined {
  if (expectedStartSeconds === undefined || !Number.isFinite(expectedStartSeconds) || expectedStartSeconds <= 0) return undefined;
  if (expectedStartSeconds < 90) return `Usually ready in about ${Math.max(1, Math.round(expectedStartSeconds))} s`;
  return `Usually ready in about ${Math.round(expectedStartSeconds / 60)} min`;
}

/**
 * Elapsed time now, from the core's figure plus the local time since it arrived: the core sends
 * elapsedMs on each event, the page ticks between events without trusting the clocks agree.
 */
export function elapsedSince(elapsedMs: number, receivedAt: number, now: number): number {
  return Math.max(0, elapsedMs + Math.max(0, now - receivedAt));
}
