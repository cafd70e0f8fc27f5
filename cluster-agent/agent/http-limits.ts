/**
 * How long and how many: the limits that keep a slow or hostile client from holding the agent's
 * sockets, and the answers Node's HTTP parser gives before fastify sees a request (malformed
 * request, headers too large, too slow), in the contract's `{error:{code,message}}` shape.
 *
 * WebSocket streams are long-lived and not subject to these: the request and header timeouts end
 * with the upgrade request, and `ws` clears the socket's idle timeout when it takes the socket over.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorBody } from './error-handling.js';

export interface HttpLimits {
  /** a request's headers must have arrived within this (slowloris); Node's `headersTimeout` */
  headersTimeoutMs: number;
  /** the whole request, headers and body, within this; Node's `requestTimeout` (fastify's default, 0, is never) */
  requestTimeoutMs: number;
  /** an idle keep-alive connection between requests is closed after this */
  keepAliveTimeoutMs: number;
  /** a connection with no bytes either way for this long is closed, also while a request is being handled */
  idleTimeoutMs: number;
  /** connections beyond this many at once are closed as soon as they are accepted */
  maxConnections: number;
  /** a keep-alive connection is closed (`Connection: close`) after this many requests */
  maxRequestsPerSocket: number;
  /** largest request line + headers, bytes; more is 431 */
  maxHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  maxConnections: 1024,
  maxRequestsPerSocket: 1000,
  maxHeaderBytes: 16 * 1024,
};

export function httpLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  return { ...DEFAULT_HTTP_LIMITS, ...overrides };
}

/** Options for node:http createServer (fastify passes them through as `http`). */
export function nodeServerOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // Node checks the two timeouts above only this often (default 30 s, which would double them).
    connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    // Answered by our own onRequest hook in the contract's shape instead of Node's empty 400.
    requireHostHeader: false,
  };
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The status and sentence for a request the HTTP parser refused, by Node's error code. */
export function describeClientError(code: string | undefined, reason: string | undefined, limits: HttpLimits): { status: number; message: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        message: `The request did not arrive in time (headers within ${seconds(limits.headersTimeoutMs)}, the whole request within ${seconds(limits.requestTimeoutMs)}); send it again in one go`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        message: `The request line and headers are larger than ${Math.floor(limits.maxHeaderBytes / 1024)} KiB; send a shorter URL or fewer and smaller headers`,
      };
    default: {
      // llhttp's reasons are fixed descriptions ("Invalid header value char"), never request bytes.
      const why = reason && /^[\w ,.'-]{1,80}$/.test(reason) ? ` (${reason})` : '';
      return { status: 400, message: `The request is not valid HTTP/1.1${why}; check the request line and headers` };
    }
  }
}

/** fastify's `clientErrorHandler`: one JSON answer, then the connection is closed. */
export function makeClientErrorHandler(limits: HttpLimits, logger: Logger) {
  return function onClientError(err: Error & { code?: string; reason?: string }, socket: Socket): void {
    // A reset, or a socket that is already gone: there is nobody to answer.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || socket.destroyed) return;
    const { status, message } = describeClientError(err.code, err.reason, limits);
    logger.info({ status, code: err.code, remoteAddress: socket.remoteAddress }, 'request refused before routing');
    // Only when no response has started on this connection; otherwise the bytes would corrupt it.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, status, message);
  };
}

/** Writes one `{error}` answer straight to the socket (no fastify request exists), then closes it. */
export function answerAndClose(socket: Socket, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody('bad_request', message));
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
  ];
  // end() flushes the answer; destroy() then frees the socket even if the client keeps its side open.
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Requests Node answers itself before fastify sees them, otherwise without a body or a word: an
 * `Expect` other than 100-continue (a bare 417) and CONNECT (the socket just closed).
 */
export function answerUnroutable(server: Server, logger: Logger): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    logger.info({ method: req.method, url: req.url, status: 417 }, 'request');
    res.shouldKeepAlive = false;
    const body = JSON.stringify(errorBody('bad_request', 'Only "Expect: 100-continue" is understood here; send the request without that Expect header'));
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    logger.info({ method: req.method, url: req.url, status: 405 }, 'request');
    answerAndClose(socket, 405, 'CONNECT is not supported: the agent is not a proxy', { Allow: 'DELETE, GET, HEAD, POST' });
  });
}
