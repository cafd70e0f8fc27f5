/**
 * HTTP over a bare TCP socket, for requests fetch() refuses to send (a bad Host, no Host, HTTP/1.0,
 * malformed headers, a body that never ends) and for seeing exactly when the server hangs up.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** the body parsed as JSON when it is JSON, else the text */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RawExchange {
  /** everything the server sent */
  raw: string;
  /** the first response in it, if any */
  response?: RawResponse;
  /** true when the server closed the connection (false: still open when the wait ended) */
  closed: boolean;
  /** ms from connecting until the server closed (or until the wait ended) */
  ms: number;
}

export function parseResponse(raw: string): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let text = raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    for (let rest = text; ; ) {
      const nl = rest.indexOf('\r\n');
      const size = Number.parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    text = out;
  } else if (headers['content-length'] !== undefined) {
    text = text.slice(0, Number(headers['content-length']));
  }
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status, headers, body };
}

function hostPort(base: string): { host: string; port: number } {
  const u = new URL(base);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/**
 * Connects, lets `talk` write whatever it likes (all at once, or dribbled), and collects what the
 * server sends until it closes the connection or `waitMs` have passed.
 */
export function rawExchange(base: string, talk: (socket: Socket) => void, waitMs = 5_000): Promise<RawExchange> {
  const { host, port } = hostPort(base);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const started = Date.now();
    let raw = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw, response: parseResponse(raw), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => (raw += d.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => {
      // a reset after the server answered still counts as "closed"
      if (raw || (err as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.once('connect', () => talk(socket));
  });
}

/** Sends `request` as is (use \r\n line ends) and waits for the server to answer and hang up. */
export async function rawRequest(base: string, request: string, waitMs = 5_000): Promise<RawExchange> {
  return rawExchange(base, (s) => s.write(request), waitMs);
}
