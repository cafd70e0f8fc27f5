/**
 * The web shell: the built renderer and the core's API for a plain browser, on loopback only.
 * HTTP serves dist/renderer with the renderer policy's headers; the WebSocket at
 * WEBSHELL_BRIDGE_PATH carries the bridge protocol, for pages of our own origin holding the key.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { WebSocketServer } from 'ws';
import { ADMIN_BRIDGE, WEBSHELL_ADMIN_PATH, WEBSHELL_BRIDGE_PATH, type AdminApi, type PortholeApi } from '../../bridge/contract.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { contentType, rendererFile, rendererHeaders } from '../core/renderer-policy.js';
import { serveBridgeSocket } from './bridge-socket.js';

/** dist/renderer, seen from the sources (main/webshell/) or from the bundle beside it (dist/webshell/). */
const here = import.meta.dirname;
const bundled = basename(here) === 'webshell' && basename(dirname(here)) === 'dist';
export const DEFAULT_RENDERER_DIR = bundled ? resolve(here, '..', 'renderer') : resolve(here, '..', '..', 'dist', 'renderer');

export interface WebShellOptions {
  api: PortholeApi;
  /** admin mode's surface, on its own socket path; absent: that path does not exist */
  admin?: AdminApi;
  /** loopback only; default 127.0.0.1 */
  host?: string;
  /** 0 = any free port */
  port?: number;
  rendererDir?: string;
  /** per-launch secret; random unless given */
  key?: string;
  logger?: Logger;
}

export interface WebShell {
  /** what to open: http://127.0.0.1:PORT/#key=KEY */
  url: string;
  origin: string;
  port: number;
  key: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host);
}

/** Host headers we answer to: loopback names with our port. Anything else is DNS rebinding. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function originAllowed(origin: string | undefined, port: number): boolean {
  if (!origin) return false;
  return [...allowedHosts(port)].some((h) => origin === `http://${h}`);
}

export async function startWebShell(opts: WebShellOptions): Promise<WebShell> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`the web shell listens on loopback only (it carries your sign-in), not on ${host}`);
  const rendererDir = resolve(opts.rendererDir ?? DEFAULT_RENDERER_DIR);
  const key = opts.key ?? randomBytes(32).toString('base64url');
  const logger = opts.logger ?? silentLogger;
  let port = 0;

  const server = createServer((req, res) => {
    if (!allowedHosts(port).has(req.headers.host ?? '')) return plain(res, 421, 'This address is not the Porthole web shell.');
    void serveStatic(req, res, rendererDir).catch((error: unknown) => {
      logger.error(`serving ${req.url}: ${String(error)}`);
      if (!res.headersSent) plain(res, 500, 'The web shell could not read the launcher files.');
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    const admin = path === WEBSHELL_ADMIN_PATH && opts.admin ? opts.admin : undefined;
    if (path !== WEBSHELL_BRIDGE_PATH && !admin) return refuse('404 Not Found');
    if (!allowedHosts(port).has(req.headers.host ?? '')) return refuse('421 Misdirected Request');
    // Another site's page in the same browser could otherwise talk to us; only our own pages may.
    if (!originAllowed(req.headers.origin, port)) {
      logger.warn(`refused a bridge connection from origin ${req.headers.origin ?? '(none)'}`);
      return refuse('403 Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => (admin ? serveBridgeSocket(ws, admin, key, ADMIN_BRIDGE) : serveBridgeSocket(ws, opts.api, key)));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host === '[::1]' ? '::1' : host, () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${host === '::1' ? '[::1]' : host}:${port}`;
  return {
    url: `${origin}/#key=${key}`,
    origin,
    port,
    key,
    close: () =>
      new Promise<void>((ok) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...rendererHeaders(), 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

async function serveStatic(req: IncomingMessage, res: ServerResponse, dir: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return plain(res, 405, 'The web shell only serves files.');
  }
  const file = rendererFile(req.url ?? '/');
  if (!file) return plain(res, 404, 'Not found.');
  let body: Buffer;
  try {
    body = await readFile(join(dir, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
    if (file === 'index.html') return plain(res, 503, `The launcher is not built yet (${join(dir, 'index.html')} is missing). Run: npm run build:renderer`);
    return plain(res, 404, 'Not found.');
  }
  res.writeHead(200, {
    ...rendererHeaders(),
    'content-type': contentType(file),
    'content-length': body.length,
    // Vite fingerprints assets; index.html must be re-read so a rebuild is picked up.
    'cache-control': file === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
