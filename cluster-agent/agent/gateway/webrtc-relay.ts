/**
 * One viewer's signalling WebSocket <-> the session's streamer. The agent authenticates to the
 * streamer with the session's streamer secret (the viewer never sees it), tells it which ICE servers
 * to use, and relays offer, answer and trickle candidates, checking every frame against the contract:
 * a viewer can only ever send an offer or a candidate. Media does not pass through here.
 */
import type { LogFn } from 'pino';
import WebSocket, { type RawData } from 'ws';
import { ClientSignal, ServerSignal, SIGNAL_CLOSE, type IceServerConfig } from '../../contract/webrtc.js';
import type { WebRtcEndpoint } from '../../runtime/types.js';
import { closeReason } from './vnc-gateway.js';

const CONNECT_TIMEOUT_MS = 5_000;
/** Signalling frames are SDP and candidates: a few kB; anything much larger is not signalling. */
const MAX_FRAME = 128 * 1024;
/** Frames a viewer may send before the streamer answers the connection (an offer and its candidates). */
const MAX_EARLY_FRAMES = 64;

export interface RelayOptions {
  iceServers: IceServerConfig[];
  /** who is watching (the streamer logs it; it is not an authorisation) */
  viewer: string;
  logger?: { warn: LogFn; info: LogFn };
}

/** The streamer's signalling URL for an endpoint: a Unix socket (local desktops) or the pod's port. */
export function streamerUrl(endpoint: WebRtcEndpoint): string {
  return endpoint.kind === 'unix' ? `ws+unix://${endpoint.path}:/signal` : `ws://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}/signal`;
}

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Pure: a viewer's frame -> the signal to forward, or the sentence saying why it is refused. */
export function parseClientFrame(raw: string): { ok: true; signal: ClientSignal } | { ok: false; message: string } {
  if (raw.length > MAX_FRAME) return { ok: false, message: `A signalling frame may be at most ${MAX_FRAME} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'Signalling frames are JSON text' };
  }
  const parsed = ClientSignal.safeParse(json);
  if (!parsed.success) return { ok: false, message: 'Send {"type":"offer","sdp":...} or {"type":"candidate","candidate":...}' };
  return { ok: true, signal: parsed.data };
}

/** Runs until either side closes; never rejects (failures reach the viewer as an error frame and a 4xxx close). */
export async function runWebRtcRelay(viewer: WebSocket, endpoint: Promise<WebRtcEndpoint>, opts: RelayOptions): Promise<void> {
  const log = opts.logger;
  const closed = new Promise<void>((resolve) => viewer.once('close', () => resolve()));
  let viewerOpen = true;
  const early: string[] = [];
  let upstream: WebSocket | undefined = undefined; // set once the endpoint is known

  const fail = (code: number, errorCode: string, message: string) => {
    if (!viewerOpen) return;
    viewer.send(JSON.stringify({ type: 'error', code: errorCode, message }));
    viewer.close(code, closeReason(message));
  };

  viewer.on('message', (data, isBinary) => {
    const parsed = isBinary ? ({ ok: false, message: 'Signalling frames are JSON text' } as const) : parseClientFrame(text(data));
    if (!parsed.ok) {
      fail(SIGNAL_CLOSE.badMessage, 'bad_message', parsed.message);
      upstream?.close(1000);
      return;
    }
    const frame = JSON.stringify(parsed.signal);
    if (upstream?.readyState === WebSocket.OPEN) upstream.send(frame);
    else if (early.length < MAX_EARLY_FRAMES) early.push(frame);
    else fail(SIGNAL_CLOSE.badMessage, 'bad_message', 'Too many signalling frames before the desktop answered');
  });
  viewer.once('close', () => {
    viewerOpen = false;
    upstream?.close(1000, 'The viewer left');
  });

  let target: WebRtcEndpoint;
  try {
    target = await endpoint;
  } catch (err) {
    log?.warn({ err }, 'no WebRTC streamer for this session');
    fail(SIGNAL_CLOSE.streamerUnavailable, 'streamer_unavailable', `WebRTC is not available for this desktop (${(err as Error).message}); use VNC`);
    return closed;
  }
  if (!viewerOpen) return closed;

  const up = new WebSocket(streamerUrl(target), { headers: { authorization: `Bearer ${target.secret}` }, handshakeTimeout: CONNECT_TIMEOUT_MS, maxPayload: MAX_FRAME });
  upstream = up;
  up.on('error', (err) => {
    log?.warn({ err }, 'streamer signalling failed');
    fail(SIGNAL_CLOSE.streamerUnavailable, 'streamer_unavailable', `The desktop's streamer is not reachable (${err.message}); use VNC`);
  });
  up.on('open', () => {
    up.send(JSON.stringify({ type: 'hello', iceServers: opts.iceServers, viewer: opts.viewer }));
    for (const frame of early.splice(0)) up.send(frame);
  });
  up.on('message', (data) => {
    let json: unknown;
    try {
      json = JSON.parse(text(data));
    } catch {
      json = undefined;
    }
    const parsed = ServerSignal.safeParse(json);
    if (!parsed.success) {
      log?.warn('the streamer sent a frame that is not signalling; dropped');
      return;
    }
    if (viewerOpen) viewer.send(JSON.stringify(parsed.data));
  });
  up.on('close', (code, reason) => {
    if (!viewerOpen) return;
    // The streamer's own 4xxx codes and reasons go through; anything else means it went away.
    if (code >= 4000 && code < 5000) viewer.close(code, reason.toString());
    else viewer.close(SIGNAL_CLOSE.ended, 'The desktop\'s streamer closed the connection');
  });
  return closed;
}
