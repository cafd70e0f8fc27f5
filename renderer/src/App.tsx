import { useCallback, useEffect, useRef, useState } from 'react';
import type { Me, Session } from '../../cluster-agent/contract/index.js';
import type { LauncherEvent, LauncherState } from '../../bridge/contract.js';
import type { Bridge } from './bridge/selectBridge.js';
import { SHELL_UNREACHABLE } from './bridge/webShellClient.js';
import { ShellLinkBanner, ShellUnavailable } from './components/ShellLink.js';
import { Banner } from './components/Banner.js';
import { AgentBanner, type AgentProblem } from './components/AgentBanner.js';
import { useShellLink } from './hooks/useShellLink.js';
import { errorSentence } from './logic/errors.js';
import { applySessionEvent, replaceSessions, templateTitle, trackFromList, type TrackedSession } from './logic/launcherItems.js';
import { Launcher, type LauncherActions } from './screens/Launcher.js';
import { SessionView } from './screens/SessionView.js';
import { SignIn } from './screens/SignIn.js';

type Screen =
  | { kind: 'loading' }
  /** getState failed: the core is not answering */
  | { kind: 'no-core'; message: string }
  | { kind: 'sign-in'; notice?: string }
  | { kind: 'launcher' }
  | { kind: 'session'; id: string };

export function App({ bridge }: { bridge: Bridge }) {
  const { api, shell } = bridge;
  const link = useShellLink(shell);
  const [screen, setScreen] = useState<Screen>({ kind: 'loading' });
  const [launcherState, setLauncherState] = useState<LauncherState>();
  const [me, setMe] = useState<Me>();
  const [sessions, setSessions] = useState<ReadonlyMap<string, TrackedSession>>(new Map());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [launcherError, setLauncherError] = useState<string>();
  const [agentProblem, setAgentProblem] = useState<AgentProblem>();
  /** the workspace shown is the one saved when the agent last answered */
  const [offlineSince, setOfflineSince] = useState<number>();
  const screenRef = useRef(screen);
  useEffect(() => {
    screenRef.current = screen;
  });

  const loadProfile = useCallback(async () => {
    try {
      const [profile, list] = await Promise.all([api.me(), api.listSessions()]);
      setMe(profile);
      setSessions((previous) => replaceSessions(previous, list, Date.now()));
      setLauncherError(undefined);
      setOfflineSince(undefined);
    } catch (error) {
      // The agent out of reach: show the workspace as it was, marked offline, instead of nothing.
      if ((error as { code?: unknown } | null)?.code === 'agent_unreachable') {
        const saved = await api.offlineWorkspace().catch(() => null);
        if (saved) {
          setMe(saved.me);
          setSessions((previous) => replaceSessions(previous, saved.sessions, Date.now()));
          setOfflineSince(saved.savedAt);
          setAgentProblem((current) => current ?? { message: errorSentence(error) });
          setLauncherError(undefined);
          return;
        }
      }
      setLauncherError(errorSentence(error, 'Your desktops could not be loaded. Please try again.'));
    }
  }, [api]);

  const showSignedIn = useCallback(
    (state: LauncherState) => {
      setLauncherState(state);
      if (!state.signedIn) {
        setScreen((current) => (current.kind === 'sign-in' ? current : { kind: 'sign-in' }));
        return;
      }
      setScreen((current) => (current.kind === 'launcher' || current.kind === 'session' ? current : { kind: 'launcher' }));
      void loadProfile();
    },
    [loadProfile],
  );

  // Promise callbacks rather than await: state changes happen when the core answers, not in the effect.
  const bootstrap = useCallback(
    () =>
      api.getState().then(showSignedIn, (error: unknown) => {
        setScreen({ kind: 'no-core', message: errorSentence(error, 'Cannot reach the launcher core.') });
      }),
    [api, showSignedIn],
  );

  useEffect(() => {
    void bootstrap();
  }, [bootstrap]);

  // After the web shell link comes back, events may have been missed: ask again.
  const wasConnected = useRef(link?.kind === 'connected');
  useEffect(() => {
    const connected = link?.kind === 'connected';
    if (connected && !wasConnected.current && screenRef.current.kind !== 'loading') void bootstrap();
    wasConnected.current = connected;
  }, [link, bootstrap]);

  useEffect(
    () =>
      api.onEvent((event: LauncherEvent) => {
        if (event.type === 'session') {
          setSessions((previous) => applySessionEvent(previous, event.session, event.elapsedMs, Date.now()));
        } else if (event.type === 'agent') {
          setAgentProblem(
            event.reachable
              ? undefined
              : {
                  message: event.message ?? 'The agent cannot be reached. Your desktops keep running; Porthole will reconnect when it is back.',
                  retryAt: event.retryInMs === undefined ? undefined : Date.now() + event.retryInMs,
                  attempt: event.attempt,
                },
          );
          // Back from offline: the live workspace replaces the saved one, without a new sign-in.
          if (event.reachable && screenRef.current.kind === 'launcher') void loadProfile();
        } else if (event.type === 'auth') {
          setLauncherState(event.state);
          if (!event.state.signedIn) {
            setMe(undefined);
            setSessions(new Map());
            setScreen({ kind: 'sign-in', notice: event.message ?? 'You have been signed out.' });
          } else if (screenRef.current.kind === 'sign-in' || screenRef.current.kind === 'loading') {
            showSignedIn(event.state);
          }
        }
      }),
    [api, showSignedIn, loadProfile],
  );

  const withBusy = useCallback(async (key: string, work: () => Promise<void>) => {
    setBusy((previous) => new Set(previous).add(key));
    setLauncherError(undefined);
    try {
      await work();
    } catch (error) {
      setLauncherError(errorSentence(error));
    } finally {
      setBusy((previous) => {
        const next = new Set(previous);
        next.delete(key);
        return next;
      });
    }
  }, []);

  const rememberSession = useCallback((session: Session) => {
    setSessions((previous) => {
      const known = previous.get(session.id);
      const tracked = known ? { ...known, session } : trackFromList(session, Date.now());
      return applySessionEvent(previous, tracked.session, tracked.elapsedMs, tracked.receivedAt);
    });
  }, []);

  const startTemplate = useCallback(
    (template: string) =>
      withBusy(template, async () => {
        const session = await api.startSession(template);
        rememberSession(session);
        setScreen({ kind: 'session', id: session.id });
      }),
    [api, withBusy, rememberSession],
  );

  const actions: LauncherActions = {
    start: (template) => void startTemplate(template),
    open: (id) => setScreen({ kind: 'session', id }),
    stop: (id) =>
      void withBusy(id, async () => {
        await api.stopSession(id);
        // Events report Stopping/Stopped too; the list makes the row change even if one is missed.
        const list = await api.listSessions();
        setSessions((previous) => replaceSessions(previous, list, Date.now()));
      }),
    startAgain: (failedId, template) =>
      void withBusy(failedId, async () => {
        // Clear the failed one first, so start-or-get makes a fresh session instead of returning it.
        await api.stopSession(failedId).catch(() => undefined);
        setSessions((previous) => {
          const next = new Map(previous);
          next.delete(failedId);
          return next;
        });
        const session = await api.startSession(template);
        rememberSession(session);
        setScreen({ kind: 'session', id: session.id });
      }),
    signOut: () =>
      void withBusy('sign-out', async () => {
        await api.signOut();
        setMe(undefined);
        setSessions(new Map());
        setScreen({ kind: 'sign-in' });
      }),
  };

  const banners = (
    <>
      {shell && link ? <ShellLinkBanner link={link} onRetryNow={() => shell.retryNow()} /> : null}
      {agentProblem && screen.kind !== 'sign-in' ? <AgentBanner problem={agentProblem} onRetryNow={() => void api.retryAgentNow().catch(() => undefined)} /> : null}
      {launcherState?.keychain && (screen.kind === 'sign-in' || screen.kind === 'launcher') ? (
        <Banner tone="warning" testId="keychain-banner">
          {launcherState.keychain.message}
        </Banner>
      ) : null}
      {offlineSince !== undefined && screen.kind === 'launcher' ? (
        <Banner tone="warning" testId="offline-banner">
          Offline: this is your workspace as it was at {new Date(offlineSince).toLocaleString()}. Starting or opening a desktop needs the agent; Porthole
          reconnects by itself and shows the live workspace as soon as the agent answers.
        </Banner>
      ) : null}
    </>
  );

  let body;
  const linkDown = link && !link.everConnected && (link.kind === 'retrying' || link.kind === 'rejected' || link.kind === 'no-key');
  if (screen.kind === 'loading' && linkDown) {
    // The first connection to the web shell failed: say so now rather than after the call times out.
    body = <ShellUnavailable message={SHELL_UNREACHABLE} link={link} onRetry={() => shell?.retryNow()} />;
  } else if (screen.kind === 'loading') {
    body = (
      <main className="centered" aria-busy="true">
        <p className="muted">Starting Porthole…</p>
      </main>
    );
  } else if (screen.kind === 'no-core') {
    body = <ShellUnavailable message={screen.message} link={link} onRetry={() => { shell?.retryNow(); void bootstrap(); }} />;
  } else if (screen.kind === 'sign-in') {
    body = <SignIn api={api} initialAgentUrl={launcherState?.agentUrl} notice={screen.notice} onSignedIn={showSignedIn} />;
  } else if (screen.kind === 'launcher') {
    body = <Launcher me={me} sessions={sessions} busy={busy} error={launcherError} actions={actions} device={api} />;
  } else {
    const tracked = sessions.get(screen.id);
    const templateName = tracked?.session.template;
    const template = me?.templates.find((t) => t.name === templateName);
    body = (
      <SessionView
        key={screen.id}
        api={api}
        sessionId={screen.id}
        tracked={tracked}
        title={templateName ? templateTitle(me?.templates ?? [], templateName) : 'Desktop'}
        agentUrl={launcherState?.agentUrl}
        canStartAgain={Boolean(template?.available)}
        protocols={template?.protocols ?? ['vnc']}
        onBack={() => {
          setScreen({ kind: 'launcher' });
          void loadProfile();
        }}
        onSessionSeen={(id, session) => {
          if (session) rememberSession(session);
          else
            setSessions((previous) => {
              const next = new Map(previous);
              next.delete(id);
              return next;
            });
        }}
        onStartAgain={() => {
          setScreen({ kind: 'launcher' });
          if (tracked && templateName) actions.startAgain(tracked.session.id, templateName);
        }}
      />
    );
  }

  return (
    <div className={`app app-${screen.kind}`}>
      {banners}
      {body}
    </div>
  );
}
