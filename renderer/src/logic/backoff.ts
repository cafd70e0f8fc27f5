/**
 * Reconnect delays: exponential from `baseMs`, capped at `maxMs`, with jitter so that many
 * clients dropped at once (agent restart) do not all come back in the same instant.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** fraction of the delay to spread either way, 0..1 */
  jitter: number;
}

export const STREAM_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000, jitter: 0.2 };
export const SHELL_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5_000, jitter: 0.2 };

/** Delay before retry number `attempt` (1 = first retry). `random` returns [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions = STREAM_BACKOFF, random: () => number = Math.random): number {
  const step = Math.max(1, Math.floor(attempt));
  // 2 ** 30 is far past any cap; avoids Infinity for absurd attempt counts.
  const exponential = options.baseMs * 2 ** Math.min(step - 1, 30);
  const capped = Math.min(options.maxMs, exponential);
  const spread = capped * options.jitter * (random() * 2 - 1);
  return Math.round(Math.min(options.maxMs, Math.max(options.baseMs / 2, capped + spread)));
}

/** Whole seconds left until `dueAt`, never below 0; what the countdown shows. */
export function secondsUntil(dueAt: number, now: number): number {
  return Math.max(0, Math.ceil((dueAt - now) / 1000));
}

/** The countdown line while the core retries the agent (it never stops): when, and which try. */
export function retryLine(retryAt: number | undefined, attempt: number | undefined, now: number): string {
  if (retryAt === undefined) return 'Porthole keeps trying.';
  const seconds = secondsUntil(retryAt, now);
  return seconds > 0 ? `Trying again in ${seconds} s${attempt && attempt > 1 ? ` (attempt ${attempt})` : ''}.` : 'Trying again now…';
}
