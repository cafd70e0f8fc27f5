import { useNow } from '../hooks/useNow.js';
import { retryLine } from '../logic/backoff.js';
import { Banner } from './Banner.js';

/** The agent out of reach, as the core last reported it: why, and when it asks again (it never stops). */
export interface AgentProblem {
  message: string;
  /** Date.now() of the core's next try, when it said */
  retryAt?: number;
  attempt?: number;
}

export function AgentBanner({ problem, onRetryNow }: { problem: AgentProblem; onRetryNow(): void }) {
  const now = useNow(problem.retryAt !== undefined);
  return (
    <Banner tone="warning" testId="agent-banner">
      {problem.message} <span data-testid="agent-retry">{retryLine(problem.retryAt, problem.attempt, now)}</span>{' '}
      <button type="button" className="link-button" data-testid="agent-retry-now" onClick={onRetryNow}>
        Try now
      </button>
    </Banner>
  );
}
