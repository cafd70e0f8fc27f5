import type { ReactNode } from 'react';

/** A calm strip across the top for conditions that are not the person's fault (core or agent away). */
export function Banner({ tone, children, testId }: { tone: 'warning' | 'info'; children: ReactNode; testId?: string }) {
  return (
    <div className={`banner banner-${tone}`} role="status" data-testid={testId}>
      {children}
    </div>
  );
}
