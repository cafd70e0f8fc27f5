/** Per-template start durations, so the launcher can show "usually ready in ~N s". */

export interface StartStat {
  /** seconds from create to Running, moving average */
  average: number;
  samples: number;
}

export type StartStats = Record<string, StartStat>;

/**
 * A plain mean for the first few samples (one slow first start should not dominate), then an
 * exponential moving average so the estimate follows the machine's current speed.
 */
export function addStartSample(prev: StartStat | undefined, seconds: number): StartStat {
  if (!prev || prev.samples === 0) return { average: seconds, samples: 1 };
  const weight = Math.max(0.2, 1 / (prev.samples + 1));
  return { average: prev.average + (seconds - prev.average) * weight, samples: prev.samples + 1 };
}

/** What the launcher is told: tenths of a second are plenty for "ready in ~N s". */
export function expectedSeconds(stat: StartStat): number {
  return Math.max(0.1, Math.round(stat.average * 10) / 10);
}
