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

/** host[:port]: a DNS name or IPv4 address, or [IPv6]; nothing else (no path, user info, spaces). */
const HOST_HEADER = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** True when a Host header can stand in a URL as its host[:port] exactly as sent. */
export function isValidHostHeader(host: string | undefined): host is string {
  if (host === undefined || host.length > 261 || !HOST_HEADER.test(host)) return false;
  try {
    // The WHATWG parser checks what the pattern cannot: IPv6 syntax, port <= 65535.
    const u = new URL(`http://${host}`);
    return u.pathname === '/' && u.username === '' && u.search === '';
  } catch {
    return false;
  }
}

/** The request's own base URL, or undefined when its Host header cannot be used in one. */
export function requestBase(protocol: string, host: string | undefined): string | undefined {
  if (!isValidHostHeader(host)) return undefined;
  return `${protocol === 'https' ? 'https' : 'http'}://${host}`;
}

export function streamUrls(httpBase: string, sessionId: string, token: string): { vnc: string; webrtc: string } {
  const ws = websocketBase(httpBase);
  const q = `?${CONNECT_TOKEN_PARAM}=${encodeURIComponent(token)}`;
  return { vnc: `${ws}${routes.vnc(sessionId)}${q}`, webrtc: `${ws}${routes.webrtc(sessionId)}${q}` };
}
