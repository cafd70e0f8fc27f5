/**
 * A WebRTC stream over a link whose rate changes: run inside a network namespace of its own
 * (`unshare -n`), where loopback is the only interface; an htb class with a 100 ms queue on it, for the
 * streamer's media ports only, is the downlink (feedback from the viewer is not slowed, as on a real
 * access link). Xvfb with a terminal scrolling random text (motion all the time; 10 ms between screenfuls so the
 * terminal does not take a core from everything else), the real streamer, the agent's
 * relay and the launcher's receiver in Chromium. Prints one JSON line: the receiver's samples.
 *   unshare -n node --import tsx test/support/shaped-link.ts '[[8,20],[12,2],[12,20]]'
 * (phases: seconds, Mbit/s)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { WebSocketServer } from 'ws';
import { runWebRtcRelay } from '../../cluster-agent/agent/gateway/webrtc-relay.js';
import { launchChromium } from './browser.js';
import { repoRoot } from './processes.js';
import { builtStreamer } from './streamer.js';

const phases = JSON.parse(process.argv[2] ?? '[[8,20],[12,2],[12,20]]') as Array<[number, number]>;
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'porthole-shaped-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The streamer's media leaves from these ports; only they cross the shaped link (the viewer's feedback does not). */
const MEDIA_PORTS = { first: 50176, last: 50191 }; // 0xC400/0xfff0 in the u32 filter

/** Downlink only, as on a real access link: htb class 1:10 for the streamer's UDP, a 100 ms byte queue in it. */
function setUpLink(mbit: number): void {
  execFileSync('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '20', 'r2q', '1000']);
  execFileSync('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit']);
  execFileSync('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', `${mbit}mbit`, 'ceil', `${mbit}mbit`]);
  execFileSync('tc', ['qdisc', 'add', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', 'bfifo', 'limit', String(queueBytes(mbit))]);
  execFileSync('tc', ['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'sport', String(MEDIA_PORTS.first), '0xfff0', 'flowid', '1:10']);
}

/** 100 ms at the rate (a home router's queue is often more), and never less than a few packets. */
const queueBytes = (mbit: number) => Math.max(6000, Math.round((mbit * 1e6) / 8 / 10));

function shape(mbit: number): void {
  execFileSync('tc', ['class', 'change', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', `${mbit}mbit`, 'ceil', `${mbit}mbit`]);
  execFileSync('tc', ['qdisc', 'change', 'dev', 'lo', 'parent', '1:10', 'handle', '10:', 'bfifo', 'limit', String(queueBytes(mbit))]);
}

async function main(): Promise<void> {
  // A link's MTU, not loopback's 64 KiB: a packet larger than the bucket could never be sent.
  execFileSync('ip', ['link', 'set', 'lo', 'mtu', '1500', 'up']);
  const display = ':71';
  children.push(spawn('Xvfb', [display, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], { stdio: 'ignore' }));
  await sleep(800);
  const env = { ...process.env, DISPLAY: display };
  children.push(spawn('xterm', ['-geometry', '200x60+0+0', '-e', 'sh', '-c', 'while :; do head -c 4000 /dev/urandom | base64; sleep 0.01; done'], { env, stdio: 'ignore' }));
  const secret = 'shaped-link-secret-0123456789abc';
  writeFileSync(join(dir, 'secret'), secret);
  const socket = join(dir, 'signal.sock');
  const streamer = builtStreamer();
  const st = spawn(streamer.node, [join(streamer.dir, 'porthole-streamer.mjs'), '--listen-unix', socket, '--secret-file', join(dir, 'secret'), '--ice-bind', '127.0.0.1', '--ice-ports', `${MEDIA_PORTS.first}-${MEDIA_PORTS.last}`, '--max-kbps', '8000'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(st);
  const log: string[] = [];
  st.stderr!.on('data', (d: Buffer) => log.push(...d.toString().trim().split('\n')));
  await new Promise<void>((resolve) => st.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));

  const bundle = await build({ entryPoints: [join(repoRoot, 'bench/stream/page.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', logLevel: 'warning' });
  const http = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.outputFiles[0]!.text);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><body style="margin:0"><script>window.PORTHOLE_CODEC="H264"</script><script src="/page.js"></script>');
  });
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  wss.on('connection', (ws) => void runWebRtcRelay(ws, Promise.resolve({ kind: 'unix', path: socket, secret }), { iceServers: [], viewer: 'shaped' }));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/`;

  setUpLink(phases[0]![1]);
  const browser = await launchChromium(join(dir, 'chromium'));
  await browser.grantPermissions(['camera', 'microphone'], { origin: url });
  const page = browser.pages()[0] ?? (await browser.newPage());
  // Keep the page's peer connections for getStats (the receiver does not expose its own).
  await page.addInitScript(`(() => {
    const Original = window.RTCPeerConnection;
    window.__porthole_pcs = [];
    window.RTCPeerConnection = function (...args) { const pc = new Original(...args); window.__porthole_pcs.push(pc); return pc; };
    window.RTCPeerConnection.prototype = Original.prototype;
  })()`);
  await page.goto(url);
  await page.waitForFunction('document.title === "connected"', undefined, { timeout: 20_000 });

  // rVFC on the video: the arrival of each displayed frame; getStats: bytes and decoded frames.
  await page.evaluate(`(() => {
    window.frameTimes = [];
    const v = document.querySelector('video');
    const onFrame = (now) => { window.frameTimes.push(now); v.requestVideoFrameCallback(onFrame); };
    v.requestVideoFrameCallback(onFrame);
  })()`);
  const samples: Array<{ t: number; link: number; framesDecoded: number; bytes: number }> = [];
  const t0 = Date.now();
  for (const [seconds, mbit] of phases) {
    shape(mbit);
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      const stats = (await page.evaluate(`(async () => {
        const out = { framesDecoded: 0, bytes: 0 };
        for (const pc of window.__porthole_pcs || []) {
          (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') { out.framesDecoded = r.framesDecoded; out.bytes = r.bytesReceived; } });
        }
        return out;
      })()`)) as { framesDecoded: number; bytes: number };
      samples.push({ t: (Date.now() - t0) / 1000, link: mbit, framesDecoded: stats.framesDecoded, bytes: stats.bytes });
      await sleep(250);
    }
  }
  const frameTimes = (await page.evaluate('window.frameTimes')) as number[];
  const start = (await page.evaluate('performance.timeOrigin')) as number;
  await browser.close();
  http.close();
  process.stdout.write(`${JSON.stringify({ phases, samples, frames: frameTimes.map((t) => (start + t - t0) / 1000), streamerLog: log.filter((l) => l.includes('bitrate') || l.includes('error')).slice(-60) })}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    setTimeout(() => process.exit(), 200).unref();
  });
