/**
 * Keeps one desktop stream up for one session: connects once the session runs, and when the
 * stream drops, retries with backoff, each attempt with a NEW connect URL (tokens are single
 * use). Stops, and says why, once the session is Stopped or Failed. No DOM and no noVNC here:
 * the view passes in how to open a stream, so the logic is testable on its own.
 */
import type { SessionPhase } from '../../../cluster-agent/contract/index.js';
import { backoffDelay, STREAM_BACKOFF } from '../logic/backoff.js';
import { errorSentence } from '../logic/errors.js';
import { isFinished } from '../logic/phase.js';

export type StreamStatus =
  /** the session is not running yet: nothing to connect to */
  | { kind: 'waiting' }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected' }
  | { kind: 'retrying'; attempt: number; retryAt: number; problem?: string }
  /** `openedElsewhere`: the person opened this desktop on another device; "Open it here" takes it back */
  | { kind: 'ended'; message: string; openedElsewhere?: boolean };

export interface StreamHandlers {
  onConnect(): void;
  /**
   * the stream closed; `problem` is a sentence when the cause is known. `immediately`: reconnect at once,
   * without backoff (the next attempt goes another way, e.g. VNC after WebRTC could not connect).
   */
  onDisconnect(problem?: string, immediately?: boolean): void;
}

export interface OpenStream {
  close(): void;
}

export interface SessionCheck {
  phase?: SessionPhase;
  message?: string;
}

/** `C`: what a fresh connect gives (the agent's connect answer: single-use stream URLs). */
export interface StreamDeps<C = string> {
  /**
   * fresh stream URLs from api.connect. `takeOver`: the person is opening it (first open, "Reconnect
   * now", another protocol, "Open it here"): another device's stream of it ends. Automatic reconnects
   * do not take over, so two devices never take a desktop from each other in turn.
   */
  fetchConnect(takeOver: boolean): Promise<C>;
  /** the session's phase now (undefined phase: it no longer exists) */
  checkSession(): Promise<SessionCheck>;
  open(connect: C, handlers: StreamHandlers): OpenStream;
  onStatus(status: StreamStatus): void;
  random?: () => number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** How often to look at a session that is starting again after a drop. */
export const WAIT_POLL_MS = 3000;

export function endedMessage(phase: SessionPhase | undefined, message?: string): string {
  if (phase === 'Failed') return message ?? 'This desktop failed. Start it again from the launcher.';
  if (phase === 'Stopped' || phase === 'Stopping') return message ?? 'This desktop has been stopped. Start it again from the launcher to continue.';
  return 'This desktop no longer exists. Start it again from the launcher.';
}

export class StreamController<C = string> {
  private status: StreamStatus = { kind: 'waiting' };
  private stream?: OpenStream;
  /** bumps on every attempt and on dispose, so late callbacks of old attempts are ignored */
  private generation = 0;
  private attempt = 0;
  private timer?: unknown;
  private disposed = false;
  /** the next connect is the person's doing (true until the first stream is up) */
  private takeOver = true;

  constructor(private readonly deps: StreamDeps<C>) {}

  get current(): StreamStatus {
    return this.status;
  }

  /** Feed every phase the view learns about (events or list refreshes). */
  setPhase(phase: SessionPhase, message?: string): void {
    if (this.disposed || this.status.kind === 'ended') return;
    if (isFinished(phase) || phase === 'Stopping') {
      this.end(endedMessage(phase, message));
    } else if (phase === 'Running' && this.status.kind === 'waiting') {
      void this.attemptConnect();
    } else if (this.status.kind === 'waiting' && this.timer === undefined) {
      this.pollWhileWaiting();
    }
  }

  /** Ask the core about the session now (when the view does not know its phase yet). */
  refresh(): void {
    if (this.disposed || (this.status.kind !== 'waiting' && this.status.kind !== 'retrying')) return;
    this.clearTimer();
    void this.retry();
  }

  /** Close the stream and connect again now (another protocol was chosen). */
  reconnect(): void {
    if (this.disposed || this.status.kind === 'ended' || this.status.kind === 'waiting') return;
    this.takeOver = true;
    this.clearTimer();
    this.closeStream();
    void this.retry();
  }

  /** "Reconnect now": skip the rest of the wait. */
  retryNow(): void {
    if (this.disposed || this.status.kind !== 'retrying') return;
    this.takeOver = true;
    this.clearTimer();
    void this.retry();
  }

  /** "Open it here": after the desktop was opened on another device, take it back to this one. */
  openHere(): void {
    if (this.disposed || this.status.kind !== 'ended' || !this.status.openedElsewhere) return;
    this.takeOver = true;
    this.attempt = 0;
    this.setStatus({ kind: 'connecting', attempt: 0 });
    void this.retry();
  }

  dispose(): void {
    this.disposed = true;
    this.generation++;
    this.clearTimer();
    this.closeStream();
  }

  private setStatus(status: StreamStatus): void {
    this.status = status;
    if (!this.disposed) this.deps.onStatus(status);
  }

  private end(message: string, openedElsewhere = false): void {
    this.generation++;
    this.clearTimer();
    this.closeStream();
    this.setStatus(openedElsewhere ? { kind: 'ended', message, openedElsewhere } : { kind: 'ended', message });
  }

  private async attemptConnect(): Promise<void> {
    this.clearTimer();
    const generation = ++this.generation;
    this.setStatus({ kind: 'connecting', attempt: this.attempt });
    let connect: C;
    try {
      connect = await this.deps.fetchConnect(this.takeOver);
    } catch (error) {
      if (generation !== this.generation) return;
      // Another device shows it now: stop here, saying so, rather than take it back by ourselves.
      if ((error as { code?: unknown } | null)?.code === 'opened_elsewhere') this.end(errorSentence(error), true);
      else this.dropped(errorSentence(error));
      return;
    }
    if (generation !== this.generation || this.disposed) return;
    this.closeStream();
    try {
      this.stream = this.deps.open(connect, {
        onConnect: () => {
          if (generation !== this.generation) return;
          this.attempt = 0;
          this.takeOver = false;
          this.setStatus({ kind: 'connected' });
        },
        onDisconnect: (problem, immediately) => {
          if (generation !== this.generation) return;
          this.stream = undefined;
          if (immediately) void this.retry();
          else this.dropped(problem);
        },
      });
    } catch (error) {
      this.dropped(errorSentence(error, 'The desktop stream could not be opened.'));
    }
  }

  private dropped(problem?: string): void {
    if (this.disposed || this.status.kind === 'ended') return;
    this.generation++;
    this.attempt += 1;
    const delay = backoffDelay(this.attempt, STREAM_BACKOFF, this.deps.random ?? Math.random);
    this.setStatus({ kind: 'retrying', attempt: this.attempt, retryAt: this.now() + delay, problem });
    this.timer = (this.deps.setTimer ?? setTimeout)(() => void this.retry(), delay);
  }

  /** Before reconnecting, ask whether the session is still there and running. */
  private async retry(): Promise<void> {
    this.timer = undefined;
    const generation = ++this.generation;
    const wasWaiting = this.status.kind === 'waiting';
    let check: SessionCheck;
    try {
      check = await this.deps.checkSession();
    } catch (error) {
      // The core or agent may be briefly unreachable: keep trying rather than give up.
      if (generation !== this.generation || this.disposed) return;
      if (wasWaiting) this.pollWhileWaiting();
      else this.dropped(errorSentence(error));
      return;
    }
    if (generation !== this.generation || this.disposed) return;
    if (check.phase === undefined || isFinished(check.phase) || check.phase === 'Stopping') {
      this.end(endedMessage(check.phase, check.message));
    } else if (check.phase === 'Running') {
      await this.attemptConnect();
    } else {
      // Restarting (Pending/Starting): Running normally arrives as an event (setPhase); look
      // again later anyway, in case that event is missed.
      this.setStatus({ kind: 'waiting' });
      this.pollWhileWaiting();
    }
  }

  private pollWhileWaiting(): void {
    this.timer = (this.deps.setTimer ?? setTimeout)(() => void this.retry(), WAIT_POLL_MS);
  }

  private closeStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) (this.deps.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.timer);
    this.timer = undefined;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
