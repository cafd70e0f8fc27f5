/**
 * porthole-streamer: runs beside a desktop's X display and streams it over WebRTC to each viewer the
 * agent relays to it. The only place with process I/O (argv, files, signals).
 *
 *   porthole-streamer (--listen-unix PATH | --listen HOST:PORT) --secret-file FILE
 *                     [--codecs h264,vp9,vp8[,av1]] [--max-kbps 8000] [--start-kbps 3000] [--floor-kbps 250]
 *                     [--fps 60] [--encoder auto|software|vaapi] [--encoder-helper PATH] [--ice-bind ADDR]
 *                     [--ice-ports FIRST-LAST] [--audio-server PULSE_SERVER] [--audio-device SOURCE]
 *                     [--audio-kbps 96] [--audio-frame-ms 10] [--audio-unavailable SENTENCE]
 * DISPLAY and XAUTHORITY come from the environment. Prints "streamer listening on ..." when ready.
 * Without --audio-server the desktop has no sound (viewers are told so); with it, a viewer that turns
 * sound on gets the PulseAudio source SOURCE (default porthole.monitor: the null sink's monitor) as Opus.
 * --audio-unavailable says to viewers why there is none (the runtime knows: e.g. PulseAudio is not installed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { probeAudioSetup } from './audio.js';
import { CODEC_NAMES, type CodecName } from './codec.js';
import { startSignallingServer, type Listen } from './signalling-server.js';
import { runViewer } from './viewer.js';
import { X11Desktop } from './x11-desktop.js';

function fail(message: string): never {
  process.stderr.write(`porthole-streamer: ${message}\n`);
  process.exit(2);
}

function int(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) fail(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

/** Hardware encoding when the node has a render device and GStreamer's VA-API plugin; software otherwise. */
function detectEncoder(wanted: string): string {
  if (wanted !== 'auto') return wanted;
  const vaapi = existsSync('/dev/dri/renderD128') && ['/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstvaapi.so'].some((p) => existsSync(p));
  return vaapi ? 'vaapi' : 'software';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'listen-unix': { type: 'string' },
      listen: { type: 'string' },
      'secret-file': { type: 'string' },
      codecs: { type: 'string' },
      'max-kbps': { type: 'string' },
      'start-kbps': { type: 'string' },
      'floor-kbps': { type: 'string' },
      fps: { type: 'string' },
      encoder: { type: 'string' },
      'encoder-helper': { type: 'string' },
      'ice-bind': { type: 'string' },
      'ice-ports': { type: 'string' },
      'audio-server': { type: 'string' },
      'audio-device': { type: 'string' },
      'audio-kbps': { type: 'string' },
      'audio-frame-ms': { type: 'string' },
      'audio-unavailable': { type: 'string' },
    },
    strict: true,
  });
  let listen: Listen;
  if (values['listen-unix']) listen = { kind: 'unix', path: values['listen-unix'] };
  else if (values.listen) {
    const m = /^(\S+):(\d+)$/.exec(values.listen);
    if (!m) fail(`--listen must be HOST:PORT, got "${values.listen}"`);
    listen = { kind: 'tcp', host: m[1]!, port: Number(m[2]) };
  } else fail('--listen-unix PATH or --listen HOST:PORT is required');
  if (!values['secret-file']) fail('--secret-file FILE is required (the session\'s streamer secret)');
  const secret = readFileSync(values['secret-file'], 'utf8').trim();
  if (secret.length < 16) fail('the streamer secret must be at least 16 characters');
  const codecs = new Set<CodecName>();
  for (const c of (values.codecs ?? 'h264,vp9,vp8').split(',')) {
    if (!CODEC_NAMES.includes(c as CodecName)) fail(`--codecs: unknown codec "${c}" (${CODEC_NAMES.join(', ')})`);
    codecs.add(c as CodecName);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const helper = values['encoder-helper'] ?? join(here, 'porthole-enc');
  if (!existsSync(helper)) fail(`the encoder helper ${helper} is missing (npm run build:streamer builds it)`);
  const display = process.env.DISPLAY;
  if (!display) fail('DISPLAY is not set');
  const log = (msg: string, extra?: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...extra })}\n`);

  const desktop = await X11Desktop.connect({ display, log }).catch((err: Error) => fail(`cannot use the display ${display}: ${err.message}`));
  const implementation = detectEncoder(values.encoder ?? 'auto');
  const limits = {
    maxKbps: int(values['max-kbps'], '--max-kbps', 8000),
    startKbps: int(values['start-kbps'], '--start-kbps', 3000),
    floorKbps: int(values['floor-kbps'], '--floor-kbps', 250),
    maxFps: int(values.fps, '--fps', 60),
  };
  let ports: { first: number; last: number } | undefined;
  if (values['ice-ports']) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(values['ice-ports']);
    if (!m || Number(m[1]) < 1024 || Number(m[2]) > 65535 || Number(m[1]) > Number(m[2])) fail(`--ice-ports must be FIRST-LAST within 1024-65535, got "${values['ice-ports']}"`);
    ports = { first: Number(m[1]), last: Number(m[2]) };
  }
  const audioKbps = int(values['audio-kbps'], '--audio-kbps', 96);
  if (audioKbps < 6 || audioKbps > 510) fail(`--audio-kbps must be within 6-510, got ${audioKbps}`);
  const audioFrameMs = int(values['audio-frame-ms'], '--audio-frame-ms', 10);
  if (![5, 10, 20, 40].includes(audioFrameMs)) fail(`--audio-frame-ms must be 5, 10, 20 or 40, got ${audioFrameMs}`);
  const audio = probeAudioSetup({ ...(values['audio-server'] ? { server: values['audio-server'] } : {}), ...(values['audio-unavailable'] ? { unavailable: values['audio-unavailable'] } : {}), device: values['audio-device'] ?? 'porthole.monitor', bitrate: audioKbps * 1000, frameMs: audioFrameMs, env: process.env });
  void audio.then((a) => log(a.ok ? 'sound available' : 'no sound', a.ok ? { server: a.server, device: a.device } : { reason: a.reason }));
  const server = await startSignallingServer(listen, secret, (ws) =>
    runViewer(ws, { encoderHelper: helper, codecs, limits, implementation, env: process.env, desktop, log, audio, ...(values['ice-bind'] ? { bindAddress: values['ice-bind'] } : {}), ...(ports ? { ports } : {}) }),
  );
  process.stdout.write(`streamer listening on ${server.address}\n`);
  const stop = () => {
    void server.close().finally(() => {
      desktop.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`porthole-streamer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
