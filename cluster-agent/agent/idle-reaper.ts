/**
 * Stops desktops nobody is looking at. Runtime-agnostic: the decision is a pure function of the
 * sessions, their templates' idle timeouts (or the --idle-timeout override) and the clock.
 */
import type { Logger } from 'pino';
import type { Session } from '../contract/index.js';
import { idleSecondsOf, isIdleFor } from '../runtime/stop-expectation.js';
import type { Runtime } from '../runtime/types.js';

export interface IdleVerdict {
  id: string;
  idleSeconds: number;
  reason: string;
  /** which incarnation of the session was judged, and by which timeout: the runtime re-checks both */
  createdAt: string;
  startedAt?: string;
  timeoutSeconds: number;
}

/** "30 minutes", "1 minute", "45 seconds": what the person reads in the session's message. */
export function describeDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.round(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * Running sessions with no client whose last activity (or start) is older than the timeout.
 * `override` (seconds) replaces every template's timeout; 0 = never stop.
 */
export function findIdleSessions(sessions: Session[], timeoutOf: (template: string) => number | undefined, now: number, override?: number): IdleVerdict[] {
  const out: IdleVerdict[] = [];
  for (const s of sessions) {
    const timeout = override ?? timeoutOf(s.template);
    if (!timeout || !isIdleFor(s, timeout, now)) continue; // 0 or unknown template: never
    const idleSeconds = idleSecondsOf(s, now)!;
    out.push({ id: s.id, idleSeconds, reason: `Idle: no client for ${describeDuration(timeout)}`, createdAt: s.createdAt, ...(s.startedAt ? { startedAt: s.startedAt } : {}), timeoutSeconds: timeout });
  }
  return out;
}

export interface IdleReaperOptions {
  runtime: Runtime;
  override?: number;
  intervalMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** Checks on an interval; returns a stop function. One sweep at a time. */
export function startIdleReaper(opts: IdleReaperOptions): { sweep: () => Promise<IdleVerdict[]>; stop: () => void } {
  const now = opts.now ?? Date.now;
  let running: Promise<IdleVerdict[]> | undefined;
  const sweep = async (): Promise<IdleVerdict[]> => {
    const [sessions, templates] = await Promise.all([opts.runtime.list(), opts.runtime.templates()]);
    const timeouts = new Map(templates.map((t) => [t.name, t.idleTimeoutSeconds]));
    const verdicts = findIdleSessions(sessions, (n) => timeouts.get(n), now(), opts.override);
    for (const v of verdicts) {
      opts.logger?.info({ session: v.id, idleSeconds: v.idleSeconds }, 'stopping idle session');
      // The list may be a moment old: the runtime stops only this incarnation, and only if still idle.
      await opts.runtime.stop(v.id, v.reason, { createdAt: v.createdAt, ...(v.startedAt ? { startedAt: v.startedAt } : {}), idleTimeoutSeconds: v.timeoutSeconds }).catch((err: unknown) => opts.logger?.warn({ err, session: v.id }, 'could not stop idle session'));
    }
    return verdicts;
  };
  const tick = () => {
    running ??= sweep()
      .catch((err: unknown) => {
        opts.logger?.warn({ err }, 'idle sweep failed');
        return [];
      })
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, opts.intervalMs ?? 30_000);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
