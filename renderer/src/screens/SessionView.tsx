import type RFB from '@novnc/novnc';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Session } from '../../../cluster-agent/contract/index.js';
import type { PortholeApi } from '../../../preload/api.js';
import { ErrorMessage } from '../components/ErrorMessage.js';
import { PhaseBadge } from '../components/PhaseBadge.js';
import { StartProgress } from '../components/StartProgress.js';
import { useNow } from '../hooks/useNow.js';
import { secondsUntil } from '../logic/backoff.js';
import { elapsedSince } from '../logic/format.js';
import type { TrackedSession } from '../logic/launcherItems.js';
import { toWebSocketUrl } from '../logic/streamUrl.js';
import { readLocalClipboard, writeLocalClipboard } from '../session/clipboard.js';
import { StreamController, type StreamStatus } from '../session/streamController.js';
import { openVnc } from '../session/vncStream.js';
import { ClipboardPanel } from '../components/ClipboardPanel.js';

const STATUS_WORD: Record<StreamStatus['kind'], string> = {
  waiting: 'waiting',
  connecting: 'connecting',
  connected: 'connected',
  retrying: 'reconnecting',
  ended: 'ended',
};

export function SessionView({ api, sessionId, tracked, title, agentUrl, canStartAgain, onBack, onSessionSeen, onStartAgain }: {
  api: PortholeApi;
  sessionId: string;
  tracked?: TrackedSession;
  title: string;
  agentUrl?: string;
  canStartAgain: boolean;
  onBack(): void;
  /** a fresher copy of the session (or undefined: it is gone) found while reconnecting */
  onSessionSeen(id: string, session: Session | undefined): void;
  onStartAgain(): void;
}) {
  const viewRef = useRef<HTMLDivElement>(null);
  const screenRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | undefined>(undefined);
  const controllerRef = useRef<StreamController | undefined>(undefined);
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
  const latest = useRef({ api, agentUrl, onSessionSeen });
  useEffect(() => {
    latest.current = { api, agentUrl, onSessionSeen };
  });

  const onRemoteClipboard = useCallback(async (text: string) => {
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
    const controller = new StreamController({
      fetchUrl: async () => {
        const answer = await latest.current.api.connect(sessionId);
        return toWebSocketUrl(answer.vnc.url, latest.current.agentUrl);
      },
      checkSession: async () => {
        const found = (await latest.current.api.listSessions()).find((s) => s.id === sessionId);
        latest.current.onSessionSeen(sessionId, found);
        return { phase: found?.phase, message: found?.message };
      },
      open: (url, handlers) =>
        openVnc(container, url, handlers, {
          onRfb: (rfb) => {
            rfbRef.current = rfb;
          },
          onClipboard: (text) => void onRemoteClipboard(text),
        }),
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
    if (status.kind === 'connected') rfbRef.current?.focus();
  }, [status.kind]);

  /** Local -> remote: when the desktop gets focus, offer it what the local clipboard holds. */
  const syncLocalClipboard = useCallback(async () => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    const text = await readLocalClipboard();
    if (text && text !== lastClipboardRef.current && rfbRef.current === rfb) {
      lastClipboardRef.current = text;
      rfb.clipboardPasteFrom(text);
    }
  }, []);

  useEffect(() => {
    if (status.kind !== 'connected') return;
    const onWindowFocus = () => void syncLocalClipboard();
    // A paste aimed at the page (not at the clipboard panel) goes to the desktop.
    const onPaste = (event: ClipboardEvent) => {
      if (event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement) return;
      const text = event.clipboardData?.getData('text/plain');
      if (text && rfbRef.current) {
        lastClipboardRef.current = text;
        rfbRef.current.clipboardPasteFrom(text);
      }
    };
    window.addEventListener('focus', onWindowFocus);
    document.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('focus', onWindowFocus);
      document.removeEventListener('paste', onPaste);
    };
  }, [status.kind, syncLocalClipboard]);

  const sendClipboard = (text: string) => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    lastClipboardRef.current = text;
    rfb.clipboardPasteFrom(text);
    setClipboardNote('Sent to the desktop. Paste it there as usual.');
    rfb.focus();
  };

  const toggleFullscreen = async () => {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await viewRef.current?.requestFullscreen();
    } catch {
      // Some kiosks forbid fullscreen; the view still fills the window.
    }
    rfbRef.current?.focus();
  };

  const connected = status.kind === 'connected';
  const ticking = status.kind === 'retrying' || phase === 'Pending' || phase === 'Starting';
  const now = useNow(ticking);
  const elapsedMs = tracked ? elapsedSince(tracked.elapsedMs, tracked.receivedAt, now) : 0;

  return (
    <div className="session-view" data-testid="session-view" data-session-id={sessionId} ref={viewRef}>
      <header className="session-toolbar" aria-label="Session toolbar">
        <button type="button" data-testid="back-to-launcher" onClick={onBack}>
          ← Launcher
        </button>
        <span className="session-name">{title}</span>
        {phase ? <PhaseBadge phase={phase} testId="session-phase" /> : <span className="badge badge-quiet" data-testid="session-phase">Unknown</span>}
        <span className={`connection connection-${status.kind}`} data-testid="connection-status" aria-live="polite">
          {STATUS_WORD[status.kind]}
        </span>
        <span className="toolbar-spacer" />
        <button type="button" disabled={!connected} onClick={() => { rfbRef.current?.sendCtrlAltDel(); rfbRef.current?.focus(); }}>
          Ctrl+Alt+Del
        </button>
        <button type="button" aria-pressed={clipboardOpen} aria-controls="clipboard-panel" onClick={() => setClipboardOpen((open) => !open)}>
          Clipboard
        </button>
        <button type="button" aria-pressed={fullscreen} onClick={() => void toggleFullscreen()}>
          {fullscreen ? 'Exit full screen' : 'Full screen'}
        </button>
      </header>

      <div className="session-body">
        <div
          className={`vnc-screen${connected ? '' : ' vnc-hidden'}`}
          data-testid="vnc-screen"
          ref={screenRef}
          onFocus={() => void syncLocalClipboard()}
        />
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
              onBack={onBack}
              onStartAgain={onStartAgain}
            />
          </div>
        ) : null}
        {clipboardOpen ? (
          <ClipboardPanel
            text={clipboardText}
            note={clipboardNote}
            canSend={connected}
            onChange={setClipboardText}
            onSend={sendClipboard}
            onClose={() => {
              setClipboardOpen(false);
              rfbRef.current?.focus();
            }}
          />
        ) : null}
      </div>
    </div>
  );
}

function StreamOverlay({ status, phase, elapsedMs, expectedStartSeconds, hint, now, canStartAgain, onRetryNow, onBack, onStartAgain }: {
  status: StreamStatus;
  phase?: Session['phase'];
  elapsedMs: number;
  expectedStartSeconds?: number;
  hint?: string;
  now: number;
  canStartAgain: boolean;
  onRetryNow(): void;
  onBack(): void;
  onStartAgain(): void;
}) {
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
