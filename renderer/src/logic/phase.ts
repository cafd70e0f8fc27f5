/** Session phases as the launcher shows them: words, badge tones and start-up progress. */
import type { SessionPhase } from '../../../cluster-agent/contract/index.js';

export type BadgeTone = 'waiting' | 'good' | 'quiet' | 'bad';

export const PHASE_TONE: Record<SessionPhase, BadgeTone> = {
  Pending: 'waiting',
  Starting: 'waiting',
  Running: 'good',
  Stopping: 'quiet',
  Stopped: 'quiet',
  Failed: 'bad',
};

/** Phases in which the session exists and can be opened or waited for. */
export function isActive(phase: SessionPhase): boolean {
  return phase === 'Pending' || phase === 'Starting' || phase === 'Running';
}

/** Phases from which the session will not come back by itself. */
export function isFinished(phase: SessionPhase): boolean {
  return phase === 'Stopped' || phase === 'Failed';
}

/** Where the start-up is: the session's phase, or 'connecting' once it runs but the stream is not up yet. */
export type StartStage = 'Pending' | 'Starting' | 'connecting';

/**
 * Progress bar fraction 0..1. With an estimate, time drives it (linear to 90 % at the expected
 * time, then creeping towards 97 % so it never looks finished before it is). Without one, each
 * stage has a fixed resting point.
 */
export function startProgress(stage: StartStage, elapsedMs: number, expectedStartSeconds?: number): number {
  if (stage === 'connecting') return 0.97;
  const floor = stage === 'Pending' ? 0.05 : 0.35;
  if (expectedStartSeconds === undefined || expectedStartSeconds <= 0) return stage === 'Pending' ? 0.15 : 0.5;
  const ratio = Math.max(0, elapsedMs) / (expectedStartSeconds * 1000);
  const timed = ratio <= 1 ? 0.9 * ratio : 0.97 - 0.07 * Math.exp(-(ratio - 1));
  return Math.min(0.96, Math.max(floor, timed));
}
