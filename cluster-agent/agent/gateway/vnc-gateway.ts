/**
 * One viewer WebSocket <-> one desktop VNC socket. Handshakes both sides (see rfb-handshake.ts),
 * then relays bytes with backpressure in both directions, so a slow viewer slows the desktop's
 * socket rather than growing the agent's memory, and a slow desktop pauses the viewer's socket.
 */
import { connect, type Socket } from 'node:net';
import type { LogFn } from 'pino';
import type { WebSocket, RawData } from 'ws';
import type { VncEndpoint } from '../../runtime/types.js';
import { ByteReader } from './byte-reader.js';
import { acceptViewer, authenticateToServer } from './rfb-handshake.js';

/** Pause the desktop socket above this many bytes queued for the viewer; resume below LOW. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;

/** Close codes the viewer sees. 1011 = server error (RFC 6455); 4xxx = application-defined. */
export const CLOSE_DESKTOP_UNREACHABLE = 4502;
export const CLOSE_HANDSHAKE_FAILED = 4503;

export interface GatewayHooks {
  onBytes?: (direction: 'to_client' | 'to_desktop', n: number) => void;
  logger?: { warn: LogFn };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** WebSocket close reasons are limited to 123 bytes. */
export function closeReason(text: string): string {
  const b = Buffer.from(text);
  return b.length <= 123 ? text : b.subarray(0, 120).toString('utf8').replace(/\uFFFD*$/, '') + '...';
}

/** Bytes read from the desktop go to `sink`; it returns false to pause reading (backpressure). */
type DesktopSink = (chunk: Buffer) => boolean;
/** One read from the desktop: a full-screen update is megabytes, so fewer, larger reads than libuv's 64 KiB. */
const READ_SIZE = 256 * 1024;

/**
 * Reads go through `onread` into one buffer owned by the connection (no stream machinery, no allocation
 * per read); each chunk is copied out once, for the viewer's socket to own.
 */
function dial(endpoint: VncEndpoint, sink: { current: DesktopSink }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const onread = { buffer: Buffer.allocUnsafe(READ_SIZE), callback: (n: number, buf: Uint8Array) => sink.current(Buffer.from(buf.subarray(0, n))) };
    const sock = endpoint.kind === 'tcp' ? connect({ host: endpoint.host, port: endpoint.port, onread }) : connect({ path: endpoint.path, onread });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
    }, CONNECT_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms))),
  ]);
}

/**
 * Runs until either side closes. Resolves when both sockets are closed; never rejects (failures
 * are reported to the viewer as a close code + reason).
 */
export async function runVncGateway(ws: WebSocket, endpoint: Promise<VncEndpoint>, hooks: GatewayHooks = {}): Promise<void> {
  ws.binaryType = 'nodebuffer';
  const log = hooks.logger;
  const fromViewer = new ByteReader();
  let viewerClosed = false;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const onHandshakeMessage = (data: RawData) => fromViewer.push(toBuffer(data));
  ws.on('message', onHandshakeMessage);
  ws.once('close', () => {
    viewerClosed = true;
    fromViewer.fail(new Error('the viewer closed the connection'));
  });

  let desktop: Socket;
  const fromDesktop = new ByteReader();
  const sink: { current: DesktopSink } = {
    current: (b) => {
      fromDesktop.push(b);
      return true;
    },
  };
  try {
    desktop = await dial(await endpoint, sink);
  } catch (err) {
    log?.warn({ err }, 'desktop unreachable');
    if (!viewerClosed) ws.close(CLOSE_DESKTOP_UNREACHABLE, closeReason(`The desktop is not reachable (${(err as Error).message}); try again or restart the session`));
    return closed;
  }
  if (viewerClosed) {
    desktop.destroy();
    return;
  }

  desktop.on('error', (err) => fromDesktop.fail(err));
  desktop.once('close', () => {
    fromDesktop.fail(new Error('the desktop closed the connection'));
    if (!viewerClosed) ws.close(1000, 'The desktop closed the connection');
  });
  ws.once('close', () => desktop.destroy());

  try {
    await withTimeout(authenticateToServer(fromDesktop, (b) => desktop.write(b), (await endpoint).password), HANDSHAKE_TIMEOUT_MS, 'The desktop handshake');
    await withTimeout(acceptViewer(fromViewer, (b) => ws.send(b, { binary: true })), HANDSHAKE_TIMEOUT_MS, 'The viewer handshake');
  } catch (err) {
    log?.warn({ err }, 'VNC handshake failed');
    if (!viewerClosed) ws.close(CLOSE_HANDSHAKE_FAILED, closeReason((err as Error).message));
    desktop.destroy();
    return closed;
  }

  // Switch from handshake to relay, forwarding anything that arrived early on either side.
  ws.off('message', onHandshakeMessage);
  const earlyFromViewer = fromViewer.drain();
  if (earlyFromViewer.length) toDesktop(earlyFromViewer);
  const earlyFromDesktop = fromDesktop.drain();
  if (earlyFromDesktop.length) toViewer(earlyFromDesktop);

  let desktopPaused = false;
  function resumeDesktopIfDrained(): void {
    if (desktopPaused && ws.bufferedAmount < LOW_WATER) {
      desktopPaused = false;
      desktop.resume();
    }
  }
  function toViewer(chunk: Buffer): boolean {
    if (ws.readyState !== ws.OPEN) return true;
    hooks.onBytes?.('to_client', chunk.length);
    ws.send(chunk, { binary: true }, resumeDesktopIfDrained);
    if (!desktopPaused && ws.bufferedAmount > HIGH_WATER) {
      desktopPaused = true;
      return false; // onread pauses the socket; resumeDesktopIfDrained resumes it
    }
    return true;
  }
  function toDesktop(chunk: Buffer): void {
    hooks.onBytes?.('to_desktop', chunk.length);
    if (!desktop.write(chunk) && !ws.isPaused) {
      ws.pause();
      desktop.once('drain', () => ws.resume());
    }
  }
  sink.current = toViewer;
  ws.on('message', (data) => toDesktop(toBuffer(data)));
  return closed;
}
