import { expectedStartHint, formatElapsed } from '../logic/format.js';
import { startProgress, type StartStage } from '../logic/phase.js';

const STAGE_TEXT: Record<StartStage, string> = {
  Pending: 'Finding a place to run your desktop',
  Starting: 'Starting your desktop',
  connecting: 'Connecting to your desktop',
};

/** Progress while a desktop comes up: what is happening, a bar, the time so far and the usual time. */
export function StartProgress({ stage, elapsedMs, expectedStartSeconds, hint }: {
  stage: StartStage;
  /** omitted when connecting to a desktop that already runs: its age says nothing about the wait */
  elapsedMs?: number;
  expectedStartSeconds?: number;
  /** the agent's own hint while Pending/Starting (e.g. "pulling the image") */
  hint?: string;
}) {
  const fraction = startProgress(stage, elapsedMs ?? 0, expectedStartSeconds);
  const usual = elapsedMs === undefined ? undefined : expectedStartHint(expectedStartSeconds);
  return (
    <div className="start-progress">
      <p className="start-progress-title">{STAGE_TEXT[stage]}…</p>
      <progress max={100} value={Math.round(fraction * 100)} aria-label="Start-up progress" />
      {elapsedMs !== undefined ? (
        <p className="start-progress-detail">
          <span data-testid="elapsed">{formatElapsed(elapsedMs)}</span>
          {usual ? <span> · {usual}</span> : null}
        </p>
      ) : null}
      {hint ? <p className="start-progress-hint">{hint}</p> : null}
    </div>
  );
}
