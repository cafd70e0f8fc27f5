/**
 * The encoder's target bitrate and frame rate from the receiver's feedback (REMB estimates and the loss
 * in receiver reports). Pure: feed it what arrived, ask it what to do.
 *
 * - Start at `start` (not at the floor: motion must not be starved while the estimate warms up).
 * - Down at once when the link says so: an estimate below the target while we really send near it, or
 *   loss over 10 % (then 15 % less each second it lasts). A desktop that is still sends little; its
 *   estimate follows what it sends, so an estimate from an app-limited stream never lowers the target.
 * - Up by 15 % a second while the estimate has room and loss is under 2 %, to at most `max`.
 * - Never below `floor`; below `lowFpsBelow` kbit/s the frame rate drops (30, then 15) so each frame keeps
 *   enough bits to be legible, and comes back as the bitrate does.
 */

export interface BitrateLimits {
  startKbps: number;
  floorKbps: number;
  maxKbps: number;
  maxFps: number;
}

export interface BitrateState {
  targetKbps: number;
  fps: number;
  /** last time the target went up (ms) */
  lastIncrease: number;
  /** last time loss made it go down (ms) */
  lastLossCut: number;
  /** newest REMB estimate (kbit/s) and when */
  estimateKbps?: number;
  estimateAt?: number;
  /** newest fraction lost (0..1) and when */
  loss?: number;
  lossAt?: number;
}

export const DEFAULT_LIMITS: BitrateLimits = { startKbps: 3000, floorKbps: 250, maxKbps: 8000, maxFps: 60 };

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function initialState(limits: BitrateLimits, now: number): BitrateState {
  return { targetKbps: clamp(limits.startKbps, limits.floorKbps, limits.maxKbps), fps: limits.maxFps, lastIncrease: now, lastLossCut: 0 };
}

/** Frame rate for a bitrate: full below nothing; 30 under 900 kbit/s; 15 under 400 kbit/s. */
export function fpsFor(kbps: number, maxFps: number): number {
  if (kbps < 400) return Math.min(maxFps, 15);
  if (kbps < 900) return Math.min(maxFps, 30);
  return maxFps;
}

/**
 * One decision, `sentKbps` being what the encoder really produced over the last second. Returns the new
 * state; the caller applies targetKbps and fps when they changed.
 */
export function decide(state: BitrateState, limits: BitrateLimits, sentKbps: number, now: number): BitrateState {
  const s = { ...state };
  const fresh = (at?: number) => at !== undefined && now - at < 3000;
  const loss = fresh(s.lossAt) ? (s.loss ?? 0) : 0;
  const estimate = fresh(s.estimateAt) ? s.estimateKbps : undefined;
  const appLimited = sentKbps < s.targetKbps * 0.5;

  if (loss > 0.1 && now - s.lastLossCut >= 1000) {
    s.targetKbps = s.targetKbps * 0.85;
    s.lastLossCut = now;
  }
  if (estimate !== undefined && estimate < s.targetKbps && !appLimited) {
    s.targetKbps = estimate * 0.9; // the link is smaller than what we try: follow it down now
  } else if (estimate !== undefined && estimate > s.targetKbps * 1.1 && loss < 0.02 && now - s.lastIncrease >= 1000 && !appLimited) {
    s.targetKbps = Math.min(s.targetKbps * 1.15, estimate * 0.9);
    s.lastIncrease = now;
  } else if (estimate === undefined && loss < 0.02 && now - s.lastIncrease >= 1000 && !appLimited && s.targetKbps < limits.startKbps) {
    s.targetKbps = Math.min(s.targetKbps * 1.15, limits.startKbps); // no estimate (yet): climb back to the start rate
    s.lastIncrease = now;
  }
  s.targetKbps = Math.round(clamp(s.targetKbps, limits.floorKbps, limits.maxKbps));
  s.fps = fpsFor(s.targetKbps, limits.maxFps);
  return s;
}

export function withEstimate(state: BitrateState, kbps: number, now: number): BitrateState {
  return { ...state, estimateKbps: kbps, estimateAt: now };
}

export function withLoss(state: BitrateState, fractionLost: number, now: number): BitrateState {
  return { ...state, loss: fractionLost, lossAt: now };
}
