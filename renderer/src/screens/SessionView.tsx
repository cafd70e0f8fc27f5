import { useCallback, useEffect, useRef, useState } from 'react';
import type { SoundState } from '../session/stream.js';
import type { ConnectResponse, Session } from '../../../cluster-agent/contract/index.js';
import type { EffectivePolicy, PortholeApi } from '../../../bridge/contract.js';
import { clipboardAllows, MANAGED_NOTE } from '../logic/policy.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { StartProgress } from '../components/StartProgress.js';
import { useNow } from '../hooks/useNow.js';
import { secondsUntil } from '../logic/backoff.js';
import { elapsedSince } from '../logic/format.js';
import type { TrackedSession } from '../logic/launcherItems.js';
import { toWebSocketUrl } from '../logic/streamUrl.js';
import { CODEC_PREFERENCE, rankCodecs } from '../logic/codecs.js';
import { chooseProtocol, type ProtocolSetting } from '../logic/protocol.js';
import { readLocalClipboard, writeLocalClipboard } from '../session/clipboard.js';
import { CTRL_ALT_DEL, type DesktopStream, type StreamStats } from '../session/stream.js';
import { StreamController, type StreamStatus } from '../session/streamController.js';
import { openVnc } from '../session/vncStream.js';
import { openWebRtc } from '../session/webrtcStream.js';
import { ClipboardPanel } from '../components/ClipboardPanel.js';
import { StatsPanel } from '../components/StatsPanel.js';
import { decodeSupport, loadFitToWindow, loadProtocolSetting, loadRelayOnly, saveFitToWindow, saveProtocolSetting } from '../session/capabilities.js';

const STATUS_WORD: Record<StreamStatus['kind'], string> = {
  waiting: 'waiting',
  connecting: 'connecting',
  connected: 'connected',
  retrying: 'reconnecting',
  ended: 'ended',
};

export function SessionView({ api, sessionId, tracked, title, agentUrl, canStartAgain, protocols, policy, backLabel, onBack, onSessionSeen, onStartAgain }: {
  api: PortholeApi;
  sessionId: string;
  tracked?: TrackedSession;
  title: string;
  agentUrl?: string;
  canStartAgain: boolean;
  /** what the session's template streams over */
  protocols: readonly string[];
  /** the device's policy: allowed protocols and clipboard direction */
  policy?: EffectivePolicy;
  /** what leaving is called (a kiosk's single desktop: "Sign out") */
  backLabel?: string;
  onBack(): void;
  /** a fresher copy of the session (or undefined: it is gone) found while reconnecting */
  onSessionSeen(id: string, session: Session | undefined): void;
  onStartAgain(): void;
}) {
  const viewRef = useRef<HTMLDivElement>(null);
  const screenRef = useRef<HTMLDivElement>(null);
  const streamRef = useRef<DesktopStream | undefined>(undefined);
  const controllerRef = useRef<StreamController<ConnectResponse> | undefined>(undefined);
  /** why WebRTC did not work in this view: later attempts use VNC, saying so */
  const webrtcFailureRef = useRef<string | undefined>(undefined);
  const codecsRef = useRef<string[]>(CODEC_PREFERENCE);
  const [setting, setSetting] = useState<ProtocolSetting>(() => loadProtocolSetting());
  const settingRef = useRef(setting);
  // Fit the desktop to this window (the remote screen takes the view's size) or keep its size, scaled.
  const [fitToWindow, setFitToWindow] = useState(() => loadFitToWindow());
  const fitRef = useRef(fitToWindow);
  // The desktop's sound: off in every new view; the stream says whether there is any (and why not).
  const [sound, setSound] = useState<SoundState>({ available: false, on: false });
  const soundWantedRef = useRef(false);
  const toggleSound = () => {
    soundWantedRef.current = !soundWantedRef.current;
    streamRef.current?.setSound(soundWantedRef.current);
  };
  const toggleFit = () => {
    const on = !fitRef.current;
    fitRef.current = on;
    setFitToWindow(on);
    saveFitToWindow(on);
    streamRef.current?.fitToWindow(on);
  };
  const [protocolNote, setProtocolNote] = useState<string>();
  const [streamProtocol, setStreamProtocol] = useState<string>();
  const [statsOpen, setStatsOpen] = useState(false);
  const [stats, setStats] = useState<StreamStats>();
  // Text last moved either way, so focusing the desktop does not echo a copy straight back.
  const lastClipboardRef = useRef<string | undefined>(undefined);
  const [status, setStatus] = useState<StreamStatus>({ kind: 'waiting' });
  const [clipboardOpen, setClipboardOpen] = useState(false);
  const [clipboardText, setClipboardText] = useState('');
  const [clipboardNote, setClipboardNote] = useState<string>();
  const [fullscreen, setFullscreen] = useState(false);

  const session = tracked?.session;
  const phase = session?.phase;
  const message = session?.message;

  // Latest props for callbacks the controller keeps: it lives as long as the view, not a render.
  const allowedProtocols = policy?.protocols.value ?? ['webrtc', 'vnc'];
  const clipboard = clipboardAllows(policy?.clipboard.value ?? 'both');
  const clipboardRef = useRef(clipboard);
  const latest = useRef({ api, agentUrl, onSessionSeen, protocols, allowedProtocols });
  useEffect(() => {
    latest.current = { api, agentUrl, onSessionSeen, protocols, allowedProtocols };
    clipboardRef.current = clipboard;
  });

  // What this machine decodes, and how well: the codec order of every WebRTC offer. With hardware
  // decode turned off (This device panel) power efficiency does not count, as the panel shows.
  useEffect(() => {
    void Promise.all([decodeSupport(), api.deviceReport().catch(() => undefined)]).then(
      ([support, report]) => (codecsRef.current = rankCodecs(support, report?.hardwareDecode.enabled !== false)),
    );
  }, [api]);

  const onRemoteClipboard = useCallback(async (text: string) => {
    // The policy may keep the desktop's text off this device.
    if (!clipboardRef.current.fromDesktop) return;
    lastClipboardRef.current = text;
    setClipboardText(text);
    const copied = await writeLocalClipboard(text);
    if (!copied) {
      setClipboardNote('Text copied on the desktop is below; this browser did not let Porthole put it on your clipboard.');
      setClipboardOpen(true);
    } else {
      setClipboardNote(undefined);
    }
  }, []);

  useEffect(() => {
    const container = screenRef.current;
    if (!container) return;
    const controller = new StreamController<ConnectResponse>({
      fetchConnect: (takeOver) => latest.current.api.connect(sessionId, { takeOver }),
      checkSession: async () => {
        const found = (await latest.current.api.listSessions()).find((s) => s.id === sessionId);
        latest.current.onSessionSeen(sessionId, found);
        return { phase: found?.phase, message: found?.message };
      },
      open: (connect, handlers) => {
        const hooks = { onClipboard: (text: string) => void onRemoteClipboard(text), onSound: setSound };
        setSound({ available: false, on: false });
        const choice = chooseProtocol(latest.current.protocols, settingRef.current, webrtcFailureRef.current, latest.current.allowedProtocols);
        setProtocolNote(choice.note);
        setStreamProtocol(choice.protocol);
        const stream =
          choice.protocol === 'webrtc'
            ? openWebRtc(container, { url: toWebSocketUrl(connect.webrtc.url, latest.current.agentUrl), iceServers: connect.webrtc.iceServers }, handlers, hooks, {
                codecs: codecsRef.current,
                relayOnly: loadRelayOnly(),
                onFailed: (reason) => (webrtcFailureRef.current = reason),
              })
            : openVnc(container, toWebSocketUrl(connect.vnc.url, latest.current.agentUrl), handlers, hooks);
        stream.fitToWindow(fitRef.current);
        // Sound the person turned on stays on across reconnects (their click allowed the page to play).
        if (soundWantedRef.current) stream.setSound(true);
        streamRef.current = stream;
        return {
          close: () => {
            if (streamRef.current === stream) streamRef.current = undefined;
            stream.close();
          },
        };
      },
      onStatus: setStatus,
    });
    controllerRef.current = controller;
    return () => {
      controller.dispose();
      controllerRef.current = undefined;
    };
  }, [sessionId, onRemoteClipboard]);

  useEffect(() => {
    // Without a known phase (opened before the list arrived), ask the core directly.
    if (phase) controllerRef.current?.setPhase(phase, message);
    else controllerRef.current?.refresh();
  }, [phase, message]);

  useEffect(() => {
    const update = () => setFullscreen(document.fullscreenElement === viewRef.current);
    document.addEventListener('fullscreenchange', update);
    return () => document.removeEventListener('fullscreenchange', update);
  }, []);

  // Keys go to the desktop as soon as it shows, without a click first.
  useEffect(() => {
    if (status.kind === 'connected') streamRef.current?.focus();
  }, [status.kind]);

  // The stats overlay: refreshed every second while open.
  useEffect(() => {
    if (!statsOpen || status.kind !== 'connected') return;
    const tick = () => void streamRef.current?.stats().then(setStats, () => undefined);
    tick();
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }, [statsOpen, status.kind]);

  const changeSetting = (next: ProtocolSetting) => {
    setSetting(next);
    settingRef.current = next;
    saveProtocolSetting(next);
    webrtcFailureRef.current = undefined; // a new choice deserves a new try
    controllerRef.current?.reconnect();
  };

  /** Local -> remote: when the desktop gets focus, offer it what the local clipboard holds. */
  const syncLocalClipboard = useCallback(async () => {
    const stream = streamRef.current;
    if (!stream || !clipboardRef.current.toDesktop) return;
    const text = await readLocalClipboard();
    if (text && text !== lastClipboardRef.current && streamRef.current === stream) {
      lastClipboardRef.current = text;
      stream.sendClipboard(text);
    }
  }, []);

  useEffect(() => {
    if (status.kind !== 'connected') return;
    const onWindowFocus = () => void syncLocalClipboard();
    // A paste aimed at the page (not at the clipboard panel) goes to the desktop.
    const onPaste = (event: ClipboardEvent) => {
      if (event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement) return;
      if (!clipboardRef.current.toDesktop) return;
      const text = event.clipboardData?.getData('text/plain');
      if (text && streamRef.current) {
        lastClipboardRef.current = text;
        streamRef.current.sendClipboard(text);
      }
    };
    window.addEventListener('focus', onWindowFocus);
    document.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('focus', onWindowFocus);
      document.removeEventListener('paste', onPaste);
    };
  }, [status.kind, syncLocalClipboard]);

  // While a desktop shows, the display stays awake (Screen Wake Lock; refused quietly where not allowed).
  useEffect(() => {
    if (status.kind !== 'connected' || !('wakeLock' in navigator)) return;
    let lock: WakeLockSentinel | undefined;
    let released = false;
    navigator.wakeLock.request('screen').then(
      (l) => (released ? void l.release() : (lock = l)),
      () => undefined,
    );
    return () => {
      released = true;
      void lock?.release().catch(() => undefined);
    };
  }, [status.kind]);

  const sendClipboard = (text: string) => {
    const stream = streamRef.current;
    if (!stream || !clipboard.toDesktop) return;
    lastClipboardRef.current = text;
    stream.sendClipboard(text);
    setClipboardNote('Sent to the desktop. Paste it there as usual.');
    stream.focus();
  };

  const toggleFullscreen = async () => {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await viewRef.current?.requestFullscreen();
    } catch {
      // Some kiosks forbid fullscreen; the view still fills the window.
    }
    streamRef.current?.focus();
  };

  const connected = status.kind === 'connected';
  const ticking = status.kind === 'retrying' || phase === 'Pending' || phase === 'Starting';
  const now = useNow(ticking);
  const elapsedMs = tracked ? elapsedSince(tracked.elapsedMs, tracked.receivedAt, now) : 0;

  return (
    <div className="session-view" data-testid="session-view" data-session-id={sessionId} ref={viewRef}>
      <header className="session-toolbar" aria-label="Session toolbar">
        <button type="button" data-testid="back-to-launcher" onClick={onBack}>
          {backLabel ?? '← Launcher'}
        </button>
        <span className="session-name">{title}</span>
        {phase ? <PhaseBadge phase={phase} testId="session-phase" /> : <span className="badge badge-quiet" data-testid="session-phase">Unknown</span>}
        <span className={`connection connection-${status.kind}`} data-testid="connection-status" aria-live="polite">
          {STATUS_WORD[status.kind]}
        </span>
        {connected && streamProtocol ? (
          <span className="badge badge-quiet" data-testid="stream-protocol">
            {streamProtocol === 'webrtc' ? 'WebRTC' : 'VNC'}
          </span>
        ) : null}
        <span className="toolbar-spacer" />
        <label className="protocol-setting">
          <span className="muted">Stream</span>
          <select
            data-testid="protocol-setting"
            value={setting}
            disabled={allowedProtocols.length < 2}
            title={allowedProtocols.length < 2 ? MANAGED_NOTE : undefined}
            onChange={(e) => changeSetting(e.target.value as ProtocolSetting)}
          >
            <option value="auto">Automatic</option>
            <option value="webrtc">WebRTC</option>
            <option value="vnc">VNC</option>
          </select>
        </label>
        <button type="button" disabled={!connected} onClick={() => { streamRef.current?.sendKeys(CTRL_ALT_DEL); streamRef.current?.focus(); }}>
          Ctrl+Alt+Del
        </button>
        <button
          type="button"
          aria-pressed={sound.on}
          data-testid="sound-toggle"
          disabled={!sound.available}
          title={sound.message ?? (sound.on ? 'Turn the desktop\'s sound off' : 'Hear the desktop\'s sound')}
          onClick={toggleSound}
        >
          {sound.on ? 'Sound on' : 'Sound'}
        </button>
        <button type="button" aria-pressed={fitToWindow} data-testid="fit-toggle" title="The desktop takes the size of this window" onClick={toggleFit}>
          Fit to window
        </button>
        <button type="button" aria-pressed={statsOpen} data-testid="stats-toggle" onClick={() => setStatsOpen((open) => !open)}>
          Stats
        </button>
        {clipboard.toDesktop || clipboard.fromDesktop ? (
          <button type="button" aria-pressed={clipboardOpen} aria-controls="clipboard-panel" onClick={() => setClipboardOpen((open) => !open)}>
            Clipboard
          </button>
        ) : null}
        <button type="button" aria-pressed={fullscreen} onClick={() => void toggleFullscreen()}>
          {fullscreen ? 'Exit full screen' : 'Full screen'}
        </button>
      </header>

      {protocolNote ? (
        <p className="stream-note" role="status" data-testid="stream-note">
          {protocolNote}
        </p>
      ) : null}
      <div className="session-body">
        <div
          className={`desktop-screen${connected ? '' : ' screen-hidden'}`}
          data-testid="desktop-screen"
          data-protocol={streamProtocol}
          ref={screenRef}
          onFocus={() => void syncLocalClipboard()}
        />
        {statsOpen && stats ? <StatsPanel stats={stats} /> : null}
        {!connected ? (
          <div className="session-overlay">
            <StreamOverlay
              status={status}
              phase={phase}
              elapsedMs={elapsedMs}
              expectedStartSeconds={session?.expectedStartSeconds}
              hint={message}
              now={now}
              canStartAgain={canStartAgain}
              onRetryNow={() => controllerRef.current?.retryNow()}
              onOpenHere={() => controllerRef.current?.openHere()}
              backLabel={backLabel}
              onBack={onBack}
              onStartAgain={onStartAgain}
            />
          </div>
        ) : null}
        {clipboardOpen ? (
          <ClipboardPanel
            text={clipboardText}
            note={clipboardNote}
            canSend={connected && clipboard.toDesktop}
            onChange={setClipboardText}
            onSend={sendClipboard}
            onClose={() => {
              setClipboardOpen(false);
              streamRef.current?.focus();
            }}
          />
        ) : null}
      </div>
    </div>
  );
}

function StreamOverlay({ status, phase, elapsedMs, expectedStartSeconds, hint, now, canStartAgain, backLabel, onRetryNow, onOpenHere, onBack, onStartAgain }: {
  status: StreamStatus;
  phase?: Session['phase'];
  elapsedMs: number;
  expectedStartSeconds?: number;
  hint?: string;
  now: number;
  canStartAgain: boolean;
  backLabel?: string;
  onRetryNow(): void;
  onOpenHere(): void;
  onBack(): void;
  onStartAgain(): void;
}) {
  if (status.kind === 'ended' && status.openedElsewhere) {
    return (
      <div className="overlay-card" data-testid="opened-elsewhere">
        <ErrorMessage message={status.message} />
        <div className="overlay-actions">
          <button type="button" className="primary" data-testid="open-here" onClick={onOpenHere}>
            Open it here
          </button>
          <button type="button" onClick={onBack}>
            {backLabel ?? 'Back to the launcher'}
          </button>
        </div>
      </div>
    );
  }
  if (status.kind === 'ended') {
    return (
      <div className="overlay-card">
        <ErrorMessage message={status.message} />
        <div className="overlay-actions">
          {canStartAgain ? (
            <button type="button" className="primary" onClick={onStartAgain}>
              Start again
            </button>
          ) : null}
          <button type="button" onClick={onBack}>
            Back to the launcher
          </button>
        </div>
      </div>
    );
  }
  if (status.kind === 'retrying') {
    return (
      <div className="overlay-card" role="status">
        <p className="overlay-title">
          Connection lost — reconnecting in {secondsUntil(status.retryAt, now)} s (attempt {status.attempt})
        </p>
        {status.problem ? <p className="muted">{status.problem}</p> : null}
        <div className="overlay-actions">
          <button type="button" className="primary" data-testid="reconnect-now" onClick={onRetryNow}>
            Reconnect now
          </button>
          <button type="button" onClick={onBack}>
            Back to the launcher
          </button>
        </div>
      </div>
    );
  }
  if (status.kind === 'connecting' || phase === 'Running') {
    return (
      <div className="overlay-card" role="status">
        <StartProgress stage="connecting" />
      </div>
    );
  }
  if (phase === 'Pending' || phase === 'Starting') {
    return (
      <div className="overlay-card" role="status">
        <StartProgress stage={phase} elapsedMs={elapsedMs} expectedStartSeconds={expectedStartSeconds} hint={hint} />
      </div>
    );
  }
  return (
    <div className="overlay-card" role="status">
      <p className="overlay-title">Looking up your desktop…</p>
    </div>
  );
}
