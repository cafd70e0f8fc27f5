import { useState, type FormEvent } from 'react';
import type { LauncherState, PortholeApi } from '../../../bridge/contract.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { errorSentence } from '../logic/errors.js';

/** Agent address, user and password; a native form so Enter submits and labels are real labels. */
export function SignIn({ api, initialAgentUrl, notice, onSignedIn }: {
  api: PortholeApi;
  initialAgentUrl?: string;
  /** why the person is here again (e.g. the core lost the sign-in) */
  notice?: string;
  onSignedIn(state: LauncherState): void;
}) {
  const [agentUrl, setAgentUrl] = useState(initialAgentUrl ?? '');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    const missing = !agentUrl.trim()
      ? 'Enter the agent address, for example https://porthole.example.org.'
      : !username.trim()
        ? 'Enter your user name.'
        : !password
          ? 'Enter your password.'
          : undefined;
    setError(missing);
    if (missing) return;
    setBusy(true);
    try {
      const state = await api.signIn({ agentUrl: agentUrl.trim(), username: username.trim(), password });
      setPassword('');
      onSignedIn(state);
    } catch (caught) {
      setError(errorSentence(caught, 'Signing in failed. Please try again.'));
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-busy={busy} noValidate>
        <h1>Porthole</h1>
        <p className="subtitle">Sign in to reach your desktops.</p>
        {notice && !error ? <p className="notice" role="status">{notice}</p> : null}
        <label htmlFor="agent-url">Agent address</label>
        <input
          id="agent-url"
          data-testid="agent-url"
          type="url"
          inputMode="url"
          autoComplete="url"
          placeholder="https://porthole.example.org"
          value={agentUrl}
          onChange={(e) => setAgentUrl(e.target.value)}
          disabled={busy}
          required
        />
        <label htmlFor="username">User name</label>
        <input
          id="username"
          data-testid="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          disabled={busy}
          autoFocus
          required
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          data-testid="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          disabled={busy}
          required
        />
        <ErrorMessage message={error} />
        <button type="submit" className="primary" data-testid="sign-in" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
