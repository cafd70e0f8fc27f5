import { useNow } from '../hooks/useNow.js';
import { retryLine } from '../logic/backoff.js';
import type { AgentProblem } from './AgentBanner.js';

/** A kiosk with the cluster out of reach: the whole screen says so and counts down; never a blank page. */
export function KioskUnreachable({ problem, onRetryNow }: { problem: AgentProblem; onRetryNow(): void }) {
  const now = useNow(problem.retryAt !== undefined);
  return (
    <main className="centered kiosk-unreachable">
      <div className="card message-card" role="alert" data-testid="kiosk-unreachable">
        <h1>Desktops are out of reach</h1>
        <p>{problem.message}</p>
        <p className="muted" data-testid="agent-retry">
          {retryLine(problem.retryAt, problem.attempt, now)} This screen carries on by itself as soon as they answer.
        </p>
        <button type="button" className="primary" data-testid="agent-retry-now" onClick={onRetryNow}>
          Try now
        </button>
      </div>
    </main>
  );
}

/** The last seconds before an idle kiosk signs the person out. */
export function IdleWarning({ secondsLeft }: { secondsLeft: number }) {
  return (
    <div className="banner banner-warning" role="alert" data-testid="idle-warning">
      No activity: signing out in {secondsLeft} s. Touch the screen or press a key to stay signed in.
    </div>
  );
}
