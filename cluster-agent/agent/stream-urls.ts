/**
 * The complete stream URLs a connect response carries. Pure: the base comes from --public-url
 * (behind a proxy / TLS terminator) or else from the request itself (scheme + Host header).
 */
import { CONNECT_TOKEN_PARAM, routes } from '../contract/index.js';

/** http(s)://host[:port][/prefix] -> ws(s)://host[:port][/prefix], without a trailing slash. */
export function websocketBase(httpBase: string): string {
  const u = new URL(httpBase);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`public URL must be http(s): ${httpBase}`);
  const scheme = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export function requestBase(protocol: string, host: string): string {
  return `${protocol === 'https' ? 'https' : 'http'}://${host}`;
}

export function streamUrls(httpBase: string, sessionId: string, token: string): { vnc: string; webrtc: string } {
  const ws = websocketBase(httpBase);
  const q = `?${CONNECT_TOKEN_PARAM}=${encodeURIComponent(token)}`;
  return { vnc: `${ws}${routes.vnc(sessionId)}${q}`, webrtc: `${ws}${routes.webrtc(sessionId)}${q}` };
}
