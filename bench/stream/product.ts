/**
 * Porthole's streamer as the yardstick harness's PRODUCT_CMD: the real streamer (dist/streamer) on
 * $DISPLAY, the agent's real signalling relay, and the launcher's real receiver on a page at
 * 127.0.0.1:$PORT. Only the agent's sign-in and connect tokens are left out (they cost nothing per frame).
 * Env: DISPLAY, PORT, PRODUCT_CODEC (h264|vp9|vp8|av1), BITRATE (kbit/s, as the anchor's).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { WebSocketServer } from 'ws';
import { runWebRtcRelay } from '../../cluster-agent/agent/gateway/webrtc-relay.js';
import { repoRoot } from '../../test/support/processes.js';
import { builtStreamer } from '../../test/support/streamer.js';

const port = Number(process.env.PORT);
const codec = (process.env.PRODUCT_CODEC ?? 'h264').toUpperCase();
const kbps = process.env.BITRATE ?? '8000';
const dir = mkdtempSync(join(tmpdir(), 'porthole-bench-stream-'));
const secret = 'bench-streamer-secret-0123456789';
writeFileSync(join(dir, 'secret'), secret, { mode: 0o600 });
const streamer = builtStreamer();
const socket = join(dir, 'signal.sock');
const child = spawn(streamer.node, [join(streamer.dir, 'porthole-streamer.mjs'), '--listen-unix', socket, '--secret-file', join(dir, 'secret'), '--ice-bind', '127.0.0.1', '--start-kbps', kbps, '--max-kbps', kbps, '--codecs', 'h264,vp9,vp8,av1'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve, reject) => {
  child.stdout!.on('data', (d: Buffer) => d.toString().includes('streamer listening') && resolve());
  child.once('exit', (code) => reject(new Error(`the streamer exited (${code})`)));
});
const bundle = await build({ entryPoints: [join(repoRoot, 'bench/stream/page.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', logLevel: 'warning' });
const js = bundle.outputFiles[0]!.text;
const http = createServer((req, res) => {
  if (req.url?.startsWith('/page.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
  else res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>porthole</title><body style="margin:0"><script>window.PORTHOLE_CODEC = ${JSON.stringify(codec)}</script><script src="/page.js"></script>`);
});
const wss = new WebSocketServer({ server: http, path: '/ws' });
wss.on('connection', (ws) => void runWebRtcRelay(ws, Promise.resolve({ kind: 'unix', path: socket, secret }), { iceServers: [], viewer: 'bench' }));
http.listen(port, '127.0.0.1');
const stop = () => {
  child.kill('SIGTERM');
  http.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
