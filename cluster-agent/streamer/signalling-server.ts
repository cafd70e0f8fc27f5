/**
 * Where the agent reaches the streamer: a WebSocket at /signal on a Unix socket (local desktops; the
 * socket is in a directory only the agent and this sandbox see) or on a TCP port (a session pod; the
 * NetworkPolicy lets only the agent in). Every connection must carry the session's streamer secret as
 * a Bearer token; compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Pure: does the Authorization header carry exactly this secret? */
export function authorised(header: string | undefined, secret: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function startSignallingServer(listen: Listen, secret: string, onViewer: (ws: WebSocket) => void): Promise<{ server: Server; close: () => Promise<void>; address: string }> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket signalling only\n');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url !== '/signal') return refuse(socket, 404, 'Not Found');
    if (!authorised(req.headers.authorization, secret)) return refuse(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => onViewer(ws));
  });
  if (listen.kind === 'unix') rmSync(listen.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  if (listen.kind === 'unix') chmodSync(listen.path, 0o600);
  const addr = server.address();
  const address = typeof addr === 'string' ? addr : `${addr?.address}:${addr?.port}`;
  return {
    server,
    address,
    close: async () => {
      for (const c of wss.clients) c.close(1001, 'The streamer is stopping');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
