/** Pure timing rules of the core: when to refresh, how often to poll, what "elapsed" means. */
import type { SessionPhase } from '../../cluster-agent/contract/index.js';

/**
 * Refresh ahead of expiry by a quarter of the lifetime, at most a minute, so a slow network or a
 * suspended laptop rarely meets an expired token; never sooner than 500 ms.
 */
export function refreshDelayMs(expiresInSeconds: number): number {
  const lifetime = expiresInSeconds * 1000;
  const lead = Math.min(60_000, lifetime / 4);
  return Math.max(500, Math.round(lifetime - lead));
}

/** Treat a token as stale a little before its expiry, so it doesn't expire in flight. */
export function isTokenStale(expiresAtMs: number, nowMs: number): boolean {
  return nowMs >= expiresAtMs - 2_000;
}

export const FAST_POLL_MS = 500;
export const SLOW_POLL_MS = 5_000;
export const UNREACHABLE_POLL_MS = 2_000;

/**
 * How long to wait before asking an agent that does not answer again: 1 s, doubling to at most 30 s,
 * ±10 % so a room of kiosks dropped at once does not come back in one instant. Retries never stop.
 */
export function agentRetryDelayMs(attempt: number, random: () => number = Math.random): number {
  const step = Math.max(1, Math.floor(attempt));
  const capped = Math.min(30_000, 1_000 * 2 ** Math.min(step - 1, 30));
  return Math.round(capped * (0.9 + 0.2 * random()));
}

export function isTransient(phase: SessionPhase): boolean {
  return phase === 'Pending' || phase === 'Starting' || phase === 'Stopping';
}

export function isFinal(phase: SessionPhase): boolean {
  return phase === 'Stopped' || phase === 'Failed';
}

/** Fast while something is about to change (the person is watching a progress line), slow otherwise. */
export function pollIntervalMs(phase: SessionPhase, agentReachable: boolean): number {
  if (!agentReachable) return UNREACHABLE_POLL_MS;
  return isTransient(phase) ? FAST_POLL_MS : SLOW_POLL_MS;
}

/**
 * ms since the session was created, never negative and never going backwards for one session
 * (the agent's clock may differ from ours by a little).
 */
export function elapsedSince(createdAt: string, nowMs: number, previousMs = 0): number {
  const created = Date.parse(createdAt);
  const raw = Number.isFinite(created) ? nowMs - created : 0;
  return Math.max(previousMs, raw, 0);
}
