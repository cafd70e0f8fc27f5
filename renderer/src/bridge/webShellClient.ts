/**
 * PortholeApi over the web shell's WebSocket (protocol in bridge/contract.ts), for Chromium without
 * Electron. Keeps the link up by itself: reconnects with backoff and reports its state so the
 * page can tell the person what is going on.
 */
import { BRIDGE_METHODS, PortholeError, type BridgeApi, type BridgeMethod, type BridgeResult, type LauncherEvent, type PortholeApi, type WebShellMessage } from '../../../bridge/contract.js';
import { backoffDelay, SHELL_BACKOFF } from '../logic/backoff.js';

export type ShellLinkState =
  | { kind: 'connecting'; attempt: number; everConnected: boolean }
  | { kind: 'connected'; everConnected: true }
  | { kind: 'retrying'; attempt: number; retryAt: number; everConnected: boolean }
  /** the shell closed the socket after hello: the key is wrong or from an earlier run */
  | { kind: 'rejected'; everConnected: boolean }
  | { kind: 'no-key'; everConnected: false };

/** The parts of a WebSocket the client uses: the browser's and the `ws` package's both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export interface WebShellClientOptions {
  url: string;
  key: string | undefined;
  createSocket?: (url: string) => SocketLike;
  random?: () => number;
  now?: () => number;
  /** how long a call waits for the link before giving up */
  linkTimeoutMs?: number;
  /** how long a call waits for its answer (sign-in to a slow agent takes a while) */
  answerTimeoutMs?: number;
  /** the surface's methods (default the launcher's BRIDGE; admin mode's client passes ADMIN_METHODS) */
  methods?: readonly string[];
}

const OPEN = 1;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export const SHELL_UNREACHABLE = 'Cannot reach the launcher core. Check that the Porthole web shell is running, then reload this page.';

// The bridge methods are defined on each instance from BRIDGE_METHODS; this merges their types in.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface WebShellClient extends BridgeApi {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WebShellClient implements PortholeApi {
  private socket?: SocketLike;
  private state: ShellLinkState;
  private everConnected = false;
  private attempt = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private nextId = 1;
  private closed = false;
  private readonly pending = new Map<number, Pending>();
  private readonly waitingForLink = new Set<() => void>();
  private readonly eventListeners = new Set<(event: LauncherEvent) => void>();
  private readonly linkListeners = new Set<(state: ShellLinkState) => void>();
  private readonly createSocket: (url: string) => SocketLike;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly methods: readonly string[];

  constructor(private readonly options: WebShellClientOptions) {
    this.methods = options.methods ?? BRIDGE_METHODS;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.state = options.key ? { kind: 'connecting', attempt: 0, everConnected: false } : { kind: 'no-key', everConnected: false };
    for (const method of this.methods) Object.defineProperty(this, method, { value: (...params: unknown[]) => this.call(method as BridgeMethod, ...params), enumerable: true });
  }

  /** Opens the link; calls made before this wait for it. */
  start(): void {
    if (this.options.key && !this.socket && !this.closed) this.open();
  }

  get link(): ShellLinkState {
    return this.state;
  }

  onLinkChange(listener: (state: ShellLinkState) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /** Skip the backoff wait (the "Reconnect now" button), or try again after a rejected key. */
  retryNow(): void {
    if (this.closed || !this.options.key) return;
    if (this.state.kind === 'retrying' || this.state.kind === 'rejected') {
      clearTimeout(this.retryTimer);
      this.open();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'page closed');
    this.failPending('The page closed its connection to the launcher core.');
  }

  // --- PortholeApi: every method of the bridge contract, generated in the constructor ---
  onEvent(listener: (event: LauncherEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  // --- link ---
  private setState(state: ShellLinkState): void {
    this.state = state;
    for (const listener of [...this.linkListeners]) listener(state);
  }

  private open(): void {
    const key = this.options.key;
    if (!key) return;
    this.setState({ kind: 'connecting', attempt: this.attempt, everConnected: this.everConnected });
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.options.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    let opened = false;
    let welcomed = false;
    socket.addEventListener('open', () => {
      opened = true;
      socket.send(JSON.stringify({ hello: key }));
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return;
      const message = parseMessage(event.data);
      if (!message) return;
      if ('welcome' in message) {
        welcomed = true;
        this.everConnected = true;
        this.attempt = 0;
        this.setState({ kind: 'connected', everConnected: true });
        for (const resume of [...this.waitingForLink]) resume();
      } else if ('event' in message) {
        for (const listener of [...this.eventListeners]) listener(message.event);
      } else if ('id' in message) {
        this.settle(message.id, message.result);
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.failPending('The connection to the launcher core dropped before it answered. Please try again.');
      if (this.closed) return;
      if (opened && !welcomed) this.setState({ kind: 'rejected', everConnected: this.everConnected });
      else this.scheduleRetry();
    });
    // 'error' is always followed by 'close', which does the work.
    socket.addEventListener('error', () => undefined);
  }

  private scheduleRetry(): void {
    this.attempt += 1;
    const delay = backoffDelay(this.attempt, SHELL_BACKOFF, this.random);
    this.setState({ kind: 'retrying', attempt: this.attempt, retryAt: this.now() + delay, everConnected: this.everConnected });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  // --- calls ---
  private async call<T>(method: BridgeMethod, ...params: unknown[]): Promise<T> {
    if (!this.methods.includes(method)) throw new PortholeError('bad_request', `Unknown bridge method ${method}.`);
    await this.linkReady();
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) throw new PortholeError('unavailable', SHELL_UNREACHABLE);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PortholeError('timeout', 'The launcher core did not answer in time. Please try again.'));
      }, this.options.answerTimeoutMs ?? 60_000);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      socket.send(JSON.stringify({ id, method, params }));
    });
  }

  private linkReady(): Promise<void> {
    if (this.state.kind === 'connected') return Promise.resolve();
    if (this.state.kind === 'no-key') {
      return Promise.reject(new PortholeError('no_key', 'This page needs the full address the Porthole web shell printed, including the part after "#key=". Open that address again.'));
    }
    return new Promise<void>((resolve, reject) => {
      const resume = () => {
        clearTimeout(timer);
        this.waitingForLink.delete(resume);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waitingForLink.delete(resume);
        reject(new PortholeError('unavailable', SHELL_UNREACHABLE));
      }, this.options.linkTimeoutMs ?? 15_000);
      this.waitingForLink.add(resume);
    });
  }

  private settle(id: number, result: BridgeResult<unknown>): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (result && result.ok) entry.resolve(result.value);
    else if (result && !result.ok) entry.reject(new PortholeError(result.error.code, result.error.message));
    else entry.reject(new PortholeError('internal', 'The launcher core sent an answer this page does not understand.'));
  }

  private failPending(message: string): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new PortholeError('unavailable', message));
      this.pending.delete(id);
    }
  }
}

function parseMessage(data: unknown): WebShellMessage | undefined {
  const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as WebShellMessage) : undefined;
  } catch {
    return undefined;
  }
}
