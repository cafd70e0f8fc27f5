import { useEffect, useState, type FormEvent } from 'react';
import type { EffectivePolicy, LauncherState, PortholeApi } from '../../../bridge/contract.js';
import { MANAGED_NOTE } from '../logic/policy.js';
import { EnrolDevice } from '../components/EnrolDevice.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { errorSentence } from '../logic/errors.js';

/** The issuer's host, for "Sign in with idp.example.org". */
export function companyName(issuer: string): string {
  try {
    return new URL(issuer).host;
  } catch {
    return 'your company account';
  }
}

/**
 * Agent address, then what that agent offers: user and password (a native form, so Enter submits and
 * labels are real labels), "Sign in with <company>" (OpenID Connect in a browser window), or both.
 */
export function SignIn({ api, initialAgentUrl, notice, policy, onSignedIn }: {
  api: PortholeApi;
  /** the device's policy: a managed agent address is shown but cannot be changed; a kiosk keeps nothing to forget */
  policy?: EffectivePolicy;
  initialAgentUrl?: string;
  /** why the person is here again (e.g. the core lost the sign-in) */
  notice?: string;
  onSignedIn(state: LauncherState): void;
}) {
  const managedAgent = policy?.agentUrl.source === 'policy' ? (policy.agentUrl.value ?? undefined) : undefined;
  const [agentUrl, setAgentUrl] = useState(managedAgent ?? initialAgentUrl ?? '');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // The answer is kept with the address it is for: another address shows nothing until its answer comes.
  const [answer, setAnswer] = useState<{ url: string; options: { password: boolean; oidc?: { issuer: string } } }>();
  const options = answer?.url === agentUrl.trim() ? answer.options : undefined;
  const [waitingForBrowser, setWaitingForBrowser] = useState(false);
  const [forgotten, setForgotten] = useState(false);

  async function forgetDevice() {
    try {
      await api.forgetDevice();
      setForgotten(true);
    } catch (caught) {
      setError(errorSentence(caught, 'This device could not be cleared. Please try again.'));
    }
  }

  // What this agent offers, once the address looks like one (asked again when it changes).
  useEffect(() => {
    const url = agentUrl.trim();
    if (!/^https?:\/\/[^/\s]+/.test(url)) return;
    let stale = false;
    const timer = setTimeout(() => {
      api.signInOptions(url).then(
        (o) => !stale && setAnswer({ url, options: o }),
        () => undefined, // an agent that does not answer yet: the password form, and its error on submit
      );
    }, 300);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [agentUrl, api]);

  async function companySignIn() {
    if (busy) return;
    setError(undefined);
    setBusy(true);
    try {
      const { url } = await api.startCompanySignIn(agentUrl.trim());
      // The issuer's page in a browser window of its own, never inside the launcher (RFC 8252).
      window.open(url, '_blank');
      setWaitingForBrowser(true);
      const state = await api.finishCompanySignIn();
      onSignedIn(state);
    } catch (caught) {
      setError(errorSentence(caught, 'Signing in with your company account failed. Please try again.'));
      setBusy(false);
      setWaitingForBrowser(false);
    }
  }

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
          readOnly={!!managedAgent}
          aria-describedby={managedAgent ? 'agent-url-managed' : undefined}
          required
        />
        {managedAgent ? (
          <p className="muted" id="agent-url-managed" data-testid="agent-url-managed">
            {MANAGED_NOTE}
          </p>
        ) : null}
        {options?.oidc ? (
          <>
            <button type="button" className="primary" data-testid="company-sign-in" onClick={() => void companySignIn()} disabled={busy}>
              Sign in with {companyName(options.oidc.issuer)}
            </button>
            {waitingForBrowser ? (
              <p className="notice" role="status" data-testid="company-waiting">
                Finish signing in in the browser window that opened; Porthole continues by itself.
              </p>
            ) : null}
            {options.password ? <p className="subtitle">or with a user name and password:</p> : null}
          </>
        ) : null}
        {options && !options.password ? null : (
          <>
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
          </>
        )}
        <ErrorMessage message={error} />
        {options && !options.password ? null : (
          <button type="submit" className="primary" data-testid="sign-in" disabled={busy}>
            {busy && !waitingForBrowser ? 'Signing in…' : 'Sign in'}
          </button>
        )}
        <EnrolDevice api={api} agentUrl={agentUrl.trim()} open={!!policy?.kiosk.value} />
        {policy?.kiosk.value ? null : (
          <button type="button" className="link" data-testid="forget-device" onClick={() => void forgetDevice()} disabled={busy}>
            Forget this device
          </button>
        )}
        {forgotten ? (
          <p className="notice" role="status" data-testid="forgotten">
            Everything Porthole kept on this device (sign-in, saved workspaces and their key) was removed.
          </p>
        ) : null}
      </form>
    </main>
  );
}
