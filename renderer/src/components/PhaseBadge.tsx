import type { SessionPhase } from '../../../cluster-agent/contract/index.js';
import { PHASE_TONE } from '../logic/phase.js';

export function PhaseBadge({ phase, testId }: { phase: SessionPhase; testId?: string }) {
  return (
    <span className={`badge badge-${PHASE_TONE[phase]}`} data-testid={testId}>
      {phase}
    </span>
  );
}
