import type { ShellLinkState } from '../bridge/webShellClient.js';
import { useNow } from '../hooks/useNow.js';
import { secondsUntil } from '../logic/backoff.js';
import { Banner } from './Banner.js';

/** While the page's link to the web shell is down after having worked: say so, and offer to retry. */
export function ShellLinkBanner({ link, onRetryNow }: { link: ShellLinkState; onRetryNow(): void }) {
  const now = useNow(link.kind === 'retrying');
  if (!link.everConnected || link.kind === 'connected') return null;
  if (link.kind === 'rejected') {
    return (
      <Banner tone="warning" testId="shell-banner">
        The launcher core no longer accepts this page. Open the address the Porthole web shell printed again.
      </Banner>
    );
  }
  return (
    <Banner tone="warning" testId="shell-banner">
      Lost the connection to the launcher core —{' '}
      {link.kind === 'retrying' ? `reconnecting in ${secondsUntil(link.retryAt, now)} s (attempt ${link.attempt}).` : 'reconnecting…'}{' '}
      {link.kind === 'retrying' ? (
        <button type="button" className="link-button" onClick={onRetryNow}>
          Reconnect now
        </button>
      ) : null}
    </Banner>
  );
}

/** Full page for when the core never answered: never a blank page. */
export function ShellUnavailable({ message, link, onRetry }: { message: string; link?: ShellLinkState; onRetry(): void }) {
  const now = useNow(link?.kind === 'retrying');
  const detail =
    link?.kind === 'no-key'
      ? 'This page needs the full address the Porthole web shell printed, including the part after "#key=". Open that address again.'
      : link?.kind === 'rejected'
        ? 'The launcher core did not accept this page\u2019s key. Open the address the Porthole web shell printed again; it changes each time the shell starts.'
        : link?.kind === 'retrying'
          ? `Trying again in ${secondsUntil(link.retryAt, now)} s (attempt ${link.attempt}).`
          : undefined;
  return (
    <main className="centered">
      <div className="card message-card" role="alert" data-testid="no-core">
        <h1>Cannot reach the launcher core</h1>
        <p>{message}</p>
        {detail && detail !== message ? <p className="muted">{detail}</p> : null}
        {link?.kind !== 'no-key' ? (
          <button type="button" className="primary" onClick={onRetry}>
            Try again
          </button>
        ) : null}
      </div>
    </main>
  );
}
