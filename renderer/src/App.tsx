import { useCallback, useEffect, useRef, useState } from 'react';
import type { Me, Session } from '../../cluster-agent/contract/index.js';
import type { EffectivePolicy, LauncherEvent, LauncherState } from '../../bridge/contract.js';
import type { Bridge } from './bridge/selectBridge.js';
import { SHELL_UNREACHABLE } from './bridge/webShellClient.js';
import { ShellLinkBanner, ShellUnavailable } from './components/ShellLink.js';
import { Banner } from './components/Banner.js';
import { AgentBanner, type AgentProblem } from './components/AgentBanner.js';
import { IdleWarning, KioskUnreachable } from './components/KioskScreens.js';
import { PolicyPanel } from './components/PolicyPanel.js';
import { useLastInput } from './hooks/useIdle.js';
import { useNow } from './hooks/useNow.js';
import { IDLE_WARNING_MS, idleLeftMs, leavingSignsOut } from './logic/policy.js';
import { writeLocalClipboard } from './session/clipboard.js';
import { useShellLink } from './hooks/useShellLink.js';
import { errorSentence } from './logic/errors.js';
import { applySessionEvent, replaceSessions, templateTitle, trackFromList, type TrackedSession } from './logic/launcherItems.js';
import { Launcher, type LauncherActions } from './screens/Launcher.js';
import { SessionView } from './screens/SessionView.js';
import { SignIn } from './screens/SignIn.js';
import { Admin } from './screens/Admin.js';

type Screen =
  | { kind: 'loading' }
  /** getState failed: the core is not answering */
  | { kind: 'no-core'; message: string }
  | { kind: 'sign-in'; notice?: string }
  | { kind: 'launcher' }
  | { kind: 'session'; id: string }
  /** admin mode: setting the agent up in a cluster (only where allowed) */
  | { kind: 'admin' };

export function App({ bridge }: { bridge: Bridge }) {
  const { api, shell } = bridge;
  const link = useShellLink(shell);
  const [screen, setScreen] = useState<Screen>({ kind: 'loading' });
  /** the address admin mode said to sign in to, after an install (until the launcher restarts) */
  const [agentFromAdmin, setAgentFromAdmin] = useState<string>();
  const [launcherState, setLauncherState] = useState<LauncherState>();
  const [me, setMe] = useState<Me>();
  const [sessions, setSessions] = useState<ReadonlyMap<string, TrackedSession>>(new Map());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [launcherError, setLauncherError] = useState<string>();
  const [agentProblem, setAgentProblem] = useState<AgentProblem>();
  /** the workspace shown is the one saved when the agent last answered */
  const [offlineSince, setOfflineSince] = useState<number>();
  /** the device's policy (managed settings, kiosk); fetched with the first state */
  const [policy, setPolicy] = useState<EffectivePolicy>();
  /** bumps when the agent answers again, so the sign-in screen asks it afresh what it offers */
  const [agentEpoch, setAgentEpoch] = useState(0);
  const kiosk = !!policy?.kiosk.value;
  const autoStartedRef = useRef(false);
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
      Promise.all([api.policy(), api.getState()]).then(
        ([p, state]) => {
          setPolicy(p);
          showSignedIn(state);
        },
        (error: unknown) => {
          setScreen({ kind: 'no-core', message: errorSentence(error, 'Cannot reach the launcher core.') });
        },
      ),
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
          if (event.reachable) setAgentEpoch((n) => n + 1);
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

  /**
   * Sign-out (asked, or a kiosk's idle timer): the core removes the sign-in and saved workspace; on a
   * kiosk the device's clipboard is emptied too, so nothing of the person stays. Their desktop keeps
   * running in the cluster until its own idle timeout.
   */
  const signOutHere = useCallback(
    async (notice?: string) => {
      await api.signOut();
      if (kiosk) await writeLocalClipboard('').catch(() => false);
      autoStartedRef.current = false;
      setMe(undefined);
      setSessions(new Map());
      setLauncherError(undefined);
      setScreen(notice ? { kind: 'sign-in', notice } : { kind: 'sign-in' });
    },
    [api, kiosk],
  );

  // A kiosk with a desktop for everyone: it starts as soon as the person is signed in.
  useEffect(() => {
    const template = policy?.kiosk.value ? policy.autoStartTemplate.value : null;
    if (!template || screen.kind !== 'launcher' || !me || autoStartedRef.current || offlineSince !== undefined) return;
    autoStartedRef.current = true;
    if (!me.templates.some((t) => t.name === template && t.available)) {
      setLauncherError(`This kiosk starts the desktop "${template}", which ${me.user.name} may not use here. Ask your administrator.`);
      return;
    }
    void startTemplate(template);
  }, [policy, screen.kind, me, offlineSince, startTemplate]);

  // A kiosk signs out whoever leaves it alone past the policy's timer.
  const signedIn = screen.kind === 'launcher' || screen.kind === 'session';
  const idleWatch = kiosk && signedIn && !!policy?.idleSignOutSeconds.value;
  const { lastInputAt, reset: resetIdle } = useLastInput(idleWatch);
  const idleNow = useNow(idleWatch);
  const idleLeft = idleWatch ? idleLeftMs(policy, lastInputAt, idleNow) : undefined;
  useEffect(() => {
    if (signedIn) resetIdle();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only when the sign-in begins
  }, [signedIn]);
  useEffect(() => {
    if (idleLeft !== 0 || !policy?.idleSignOutSeconds.value) return;
    const minutes = Math.round(policy.idleSignOutSeconds.value / 60);
    void signOutHere(`You were signed out after ${minutes >= 1 ? `${minutes} min` : `${policy.idleSignOutSeconds.value} s`} without use. Your desktop keeps running; sign in again to continue where you were.`);
  }, [idleLeft, policy, signOutHere]);

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
    signOut: () => void withBusy('sign-out', () => signOutHere()),
  };

  const banners = (
    <>
      {shell && link ? <ShellLinkBanner link={link} onRetryNow={() => shell.retryNow()} /> : null}
      {agentProblem && screen.kind !== 'sign-in' && !kiosk ? <AgentBanner problem={agentProblem} onRetryNow={() => void api.retryAgentNow().catch(() => undefined)} /> : null}
      {idleLeft !== undefined && idleLeft > 0 && idleLeft <= IDLE_WARNING_MS ? <IdleWarning secondsLeft={Math.ceil(idleLeft / 1000)} /> : null}
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
  } else if (kiosk && agentProblem && screen.kind !== 'no-core') {
    // A kiosk never shows a half-working screen: the whole of it explains, counts down and retries.
    body = <KioskUnreachable problem={agentProblem} onRetryNow={() => void api.retryAgentNow().catch(() => undefined)} />;
  } else if (screen.kind === 'no-core') {
    body = <ShellUnavailable message={screen.message} link={link} onRetry={() => { shell?.retryNow(); void bootstrap(); }} />;
  } else if (screen.kind === 'sign-in') {
    body = (
      <>
        <SignIn key={kiosk ? agentEpoch : (agentFromAdmin ?? 0)} api={api} initialAgentUrl={agentFromAdmin ?? launcherState?.agentUrl} notice={screen.notice} policy={policy} onSignedIn={showSignedIn} />
        {policy?.admin.value && bridge.admin ? (
          <p className="centered">
            <button type="button" className="link" data-testid="open-admin" onClick={() => setScreen({ kind: 'admin' })}>
              Set up a cluster (admin)
            </button>
          </p>
        ) : null}
      </>
    );
  } else if (screen.kind === 'admin' && bridge.admin) {
    body = (
      <Admin
        admin={bridge.admin()}
        onBack={() => setScreen({ kind: 'sign-in' })}
        onUseAgent={(url) => {
          setAgentFromAdmin(url);
          setScreen({ kind: 'sign-in' });
        }}
      />
    );
  } else if (screen.kind === 'launcher') {
    body = (
      <>
        <Launcher me={me} sessions={sessions} busy={busy} error={launcherError} actions={actions} device={api} policy={policy} />
        {policy ? <PolicyPanel policy={policy} /> : null}
      </>
    );
  } else if (screen.kind === 'admin') {
    body = null; // admin mode without its surface: nothing to show (the link is not offered then)
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
        policy={policy}
        backLabel={leavingSignsOut(policy) ? 'Sign out' : undefined}
        onBack={() => {
          if (leavingSignsOut(policy)) {
            void withBusy('sign-out', () => signOutHere());
            return;
          }
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
