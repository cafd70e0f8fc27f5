/**
 * The encoder's target bitrate and frame rate from the receiver's feedback (REMB estimates and the loss
 * in receiver reports). Pure: feed it what arrived, ask it what to do.
 *
 * - Start at `start` (not at the floor: motion must not be starved while the estimate warms up).
 * - Down at once when the link says so: loss over 10 % among the packets sent since the last cut (to
 *   90 % of what got through, at most 80 % down per cut, cuts at least 200 ms apart), or the receiver's
 *   estimate falling fast (its delay-based detector saw a queue grow: follow it, with 10 % room, once a
 *   second at most and only when it is well under what is sent). An
 *   estimate that is merely low is not a reason: Chromium's grows by a few per cent a second only while
 *   more than it arrives. A still desktop sends little, and never lowers the target.
 * - Up by 25 % a second while loss is under 2 % and the estimate is not falling: the sender has to
 *   offer more to find out whether the link grew (waiting for the estimate took half a minute, measured).
 *   Each step the link carried (most of the new rate sent, no cut since) makes the next one bigger:
 *   after two such steps 50 %, after four 100 %, so a link that grew back is found in a few seconds
 *   (1 -> 8 Mbit/s took 9-12 s at 25 % a second: measured on the shaped link) while a link that is
 *   still small stops the streak at its first loss.
 * - Loss is counted from NACKs (within a round trip; loss-meter.ts), from receiver reports where there are none.
 * - Never below `floor`; below 900 kbit/s the frame rate drops to 30, below 400 to 24, so each frame
 *   keeps enough bits to be legible, and comes back as the bitrate does.
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
  /** steps up in a row that the link carried (most of the rate sent, no cut in between) */
  carriedSteps?: number;
  /** last time loss made it go down (ms) */
  lastLossCut: number;
  /** last time a falling estimate made it go down (ms) */
  lastEstimateCut?: number;
  /** newest REMB estimate (kbit/s) and when */
  estimateKbps?: number;
  estimateAt?: number;
  /** the highest estimate of the last two seconds, and when it came */
  peakEstimateKbps?: number;
  peakEstimateAt?: number;
  /** newest fraction lost (0..1) and when */
  loss?: number;
  lossAt?: number;
}

/** the least time between two loss cuts: the encoder's rate control needs a few frames to follow */
export const CUT_SPACING_MS = 200;

export const DEFAULT_LIMITS: BitrateLimits = { startKbps: 3000, floorKbps: 250, maxKbps: 8000, maxFps: 60 };

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function initialState(limits: BitrateLimits, now: number): BitrateState {
  return { targetKbps: clamp(limits.startKbps, limits.floorKbps, limits.maxKbps), fps: limits.maxFps, lastIncrease: now, lastLossCut: Number.NEGATIVE_INFINITY };
}

/** what share of the target the encoder must have sent for a step up to count as carried by the link */
const CARRIED_SHARE = 0.6;

/** Pure: the step up after `carried` steps in a row that the link carried. */
export function rampFactor(carried: number): number {
  if (carried > 4) return 2;
  if (carried > 2) return 1.5;
  return 1.25;
}

/** Frame rate for a bitrate: full from 900 kbit/s; 30 under it; 24 under 400 kbit/s. */
export function fpsFor(kbps: number, maxFps: number): number {
  if (kbps < 400) return Math.min(maxFps, 24);
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
  // The receiver's estimate falling fast means its delay-based detector saw the queue grow: congestion.
  const estimateFalling = estimate !== undefined && s.peakEstimateKbps !== undefined && estimate < s.peakEstimateKbps * 0.85;

  if (loss > 0.1 && now - s.lastLossCut >= CUT_SPACING_MS) {
    // What got through is about what the link carries: aim a little below it. The loss is that of the
    // packets sent since the last cut (loss-meter.ts), so a second cut follows within a round trip or
    // two when the first was not enough, and none when it was. At most 80 % down in one cut.
    const base = Math.min(sentKbps > 0 ? sentKbps : s.targetKbps, s.targetKbps);
    s.targetKbps = Math.min(s.targetKbps * 0.85, Math.max(base * (1 - loss) * 0.9, s.targetKbps * 0.2));
    s.lastLossCut = now;
    s.lastIncrease = now;
    s.carriedSteps = 0;
    // Acted on: the next cut needs loss measured on what this one sends.
    delete s.loss;
    delete s.lossAt;
  } else if (estimateFalling && estimate! < Math.min(sentKbps, s.targetKbps) * 0.9 && !appLimited && now - (s.lastEstimateCut ?? Number.NEGATIVE_INFINITY) >= 1000) {
    // Once a second at most, and only when the estimate is well under what is sent now: the receiver's
    // estimate follows what arrives, so after a cut it falls too, and following that again and again
    // spirals down to the floor on a link that has room (seen: 2.7 -> 0.2 Mbit/s on 20 Mbit/s).
    s.targetKbps = Math.min(s.targetKbps, estimate! * 0.9);
    s.lastIncrease = now;
    s.lastEstimateCut = now;
    s.carriedSteps = 0;
  } else if (loss < 0.02 && !estimateFalling && now - s.lastIncrease >= 1000 && !appLimited) {
    // Carried: the encoder sent most of the target through without a cut (it runs 20-30 % under its
    // target on ordinary desktop content, measured).
    const carried = sentKbps >= s.targetKbps * CARRIED_SHARE ? (s.carriedSteps ?? 0) + 1 : 0;
    s.targetKbps = s.targetKbps * rampFactor(carried);
    s.carriedSteps = carried;
    s.lastIncrease = now;
  }
  s.targetKbps = Math.round(clamp(s.targetKbps, limits.floorKbps, limits.maxKbps));
  s.fps = fpsFor(s.targetKbps, limits.maxFps);
  return s;
}

/** A new REMB estimate; the highest of the last two seconds is kept to tell a falling one. */
export function withEstimate(state: BitrateState, kbps: number, now: number): BitrateState {
  const peakFresh = state.peakEstimateAt !== undefined && now - state.peakEstimateAt < 2000;
  const peak = peakFresh && (state.peakEstimateKbps ?? 0) >= kbps ? { peakEstimateKbps: state.peakEstimateKbps!, peakEstimateAt: state.peakEstimateAt! } : { peakEstimateKbps: kbps, peakEstimateAt: now };
  return { ...state, estimateKbps: kbps, estimateAt: now, ...peak };
}

export function withLoss(state: BitrateState, fractionLost: number, now: number): BitrateState {
  return { ...state, loss: fractionLost, lossAt: now };
}
