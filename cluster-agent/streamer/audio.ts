/**
 * The desktop's sound, for one viewer: the session's sound server (PulseAudio, a null sink) is captured
 * from the sink's monitor by a GStreamer pipeline in a child process (gst-launch-1.0: pulsesrc ->
 * opusenc -> rtpopuspay -> RFC 4571 framing on its stdout, read like the video encoder's), and the
 * packets go out on the connection's audio track. Off until the viewer asks: while off no capture
 * process runs. A capture that stops by itself after it worked (the sound server restarted) is started
 * again; one that fails at once is reported to the viewer.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { AudioStateMessage } from '../contract/webrtc.js';
import { splitFramed } from './encoder.js';

/** Opus always runs at 48 kHz on the wire (RFC 7587): the RTP clock. */
export const OPUS_CLOCK = 48_000;

/** How the streamer reaches the desktop's sound, or why it cannot. */
export type AudioSetup =
  | { ok: true; server: string; device: string; gstLaunch: string; bitrate: number; frameMs: number }
  | { ok: false; reason: string };

/** The GStreamer elements the capture needs, with the Debian package each comes from. */
export const CAPTURE_ELEMENTS: ReadonlyArray<{ element: string; pkg: string }> = [
  { element: 'pulsesrc', pkg: 'gstreamer1.0-plugins-good' },
  { element: 'opusenc', pkg: 'gstreamer1.0-plugins-base' },
  { element: 'rtpopuspay', pkg: 'gstreamer1.0-plugins-good' },
  { element: 'rtpstreampay', pkg: 'gstreamer1.0-plugins-good' },
];

function onPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Whether the desktop's sound can be captured here: a sound server was given (`--audio-server`),
 * gst-launch-1.0 is installed and has the elements. Said once at start, as a sentence when not.
 */
export async function probeAudioSetup(o: { server?: string; unavailable?: string; device: string; bitrate: number; frameMs: number; env: NodeJS.ProcessEnv }): Promise<AudioSetup> {
  if (!o.server) return { ok: false, reason: o.unavailable ?? 'This desktop has no sound server.' };
  const path = o.env.PATH ?? '/usr/bin:/bin';
  const gstLaunch = onPath('gst-launch-1.0', path);
  const gstInspect = onPath('gst-inspect-1.0', path);
  if (!gstLaunch || !gstInspect) return { ok: false, reason: 'The desktop\'s sound cannot be sent: gst-launch-1.0 is not installed where the streamer runs (Debian package gstreamer1.0-tools).' };
  const exists = (element: string) =>
    new Promise<boolean>((resolve) => execFile(gstInspect, ['--exists', element], { env: o.env, timeout: 20_000 }, (err) => resolve(!err)));
  const missing = [];
  for (const e of CAPTURE_ELEMENTS) if (!(await exists(e.element))) missing.push(e);
  if (missing.length) {
    return { ok: false, reason: `The desktop's sound cannot be sent: GStreamer lacks ${missing.map((m) => m.element).join(', ')} (Debian packages ${[...new Set(missing.map((m) => m.pkg))].join(', ')}).` };
  }
  return { ok: true, server: o.server, device: o.device, gstLaunch, bitrate: o.bitrate, frameMs: o.frameMs };
}

/** The Opus format of the offer's audio section. */
export interface PickedOpus {
  mid: string;
  payloadType: number;
  /** the offer's fmtp for it ('' if none) */
  fmtp: string;
}

/**
 * Pure: the first audio section of the offer that asks to receive (recvonly or sendrecv) and offers
 * Opus at 48 kHz stereo: its mid and payload type (sent with the same one).
 */
export function pickOpus(offerSdp: string): PickedOpus | undefined {
  const sections = offerSdp.split(/\r?\n(?=m=)/);
  for (const section of sections) {
    const lines = section.split(/\r?\n/);
    if (!lines[0]?.startsWith('m=audio ')) continue;
    const pts = lines[0].split(' ').slice(3).map(Number);
    let mid = '';
    let direction = 'sendrecv';
    const opus: number[] = [];
    const fmtp = new Map<number, string>();
    for (const l of lines.slice(1)) {
      let m: RegExpExecArray | null;
      if ((m = /^a=mid:(\S+)/.exec(l))) mid = m[1]!;
      else if ((m = /^a=(sendrecv|recvonly|sendonly|inactive)\s*$/.exec(l))) direction = m[1]!;
      else if ((m = /^a=rtpmap:(\d+) opus\/48000\/2\s*$/i.exec(l))) opus.push(Number(m[1]));
      else if ((m = /^a=fmtp:(\d+) (.*)$/.exec(l))) fmtp.set(Number(m[1]), m[2]!.trim());
    }
    if (direction !== 'recvonly' && direction !== 'sendrecv') continue;
    // The offer's order is its preference; take the first Opus of it.
    const pt = pts.find((p) => opus.includes(p));
    if (pt === undefined || !mid) continue;
    return { mid, payloadType: pt, fmtp: fmtp.get(pt) ?? '' };
  }
  return undefined;
}

/** Pure: the fmtp we answer with: the offer's, saying that we send stereo (RFC 7587 sprop-stereo). */
export function answerFmtp(offerFmtp: string): string {
  const params = offerFmtp
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !/^(stereo|sprop-stereo)=/i.test(p));
  return [...params, 'stereo=1', 'sprop-stereo=1'].join(';');
}

/** Pure: whether this viewer can have sound, and if not, the sentence that says why. */
export function audioAvailability(setup: AudioSetup, opus: PickedOpus | undefined): { available: true } | { available: false; message: string } {
  if (!setup.ok) return { available: false, message: setup.reason };
  if (!opus) return { available: false, message: 'This viewer did not offer to receive Opus audio.' };
  return { available: true };
}

export interface CaptureOptions {
  server: string;
  device: string;
  payloadType: number;
  ssrc: number;
  /** bits per second */
  bitrate: number;
  /** Opus frame length in ms (10 or 20) */
  frameMs: number;
}

/**
 * Pure: gst-launch-1.0's arguments. Low latency at each step: PulseAudio hands over 10 ms at a time
 * (latency-time) and holds at most 40 ms (buffer-time); Opus in its CELT-only low-delay mode (2.5 ms
 * look-ahead instead of 6.5) in frames of `frameMs`; fdsink writes each packet as it comes (no clock).
 */
export function captureArgv(o: CaptureOptions): string[] {
  return [
    '-q',
    'pulsesrc', `server=${o.server}`, `device=${o.device}`, 'client-name=porthole-streamer', 'buffer-time=40000', 'latency-time=10000', 'do-timestamp=true',
    '!', 'audio/x-raw,rate=48000,channels=2',
    '!', 'audioconvert',
    '!', 'audioresample',
    '!', 'opusenc', 'audio-type=restricted-lowdelay', `frame-size=${o.frameMs}`, `bitrate=${o.bitrate}`, 'bitrate-type=cbr',
    '!', 'rtpopuspay', `pt=${o.payloadType}`, `ssrc=${o.ssrc}`,
    '!', 'rtpstreampay',
    '!', 'fdsink', 'fd=1', 'sync=false',
  ];
}

/**
 * Pure, stateful: one continuous RTP stream out of the packets of successive capture processes. Each
 * process numbers its packets from a random start; the viewer's jitter buffer must see the sequence
 * number go on by one and the timestamp by the time that passed, or it takes the jump for loss or
 * discards packets as too old. Rewrites sequence number, timestamp and SSRC in place; marks the first
 * packet after a restart (the start of a talk spurt).
 */
export class RtpContinuity {
  private nextSeq?: number;
  private lastTs?: number;
  private lastAtMs = 0;
  private segment?: { inFirstTs: number; outFirstTs: number };

  constructor(
    private readonly ssrc: number,
    private readonly clock = OPUS_CLOCK,
  ) {}

  /** A new capture process starts: its packets continue the stream from here. */
  restart(): void {
    this.segment = undefined;
  }

  rewrite(packet: Buffer, nowMs: number): Buffer {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return packet;
    const inSeq = packet.readUInt16BE(2);
    const inTs = packet.readUInt32BE(4);
    if (!this.segment) {
      let outFirstTs = inTs;
      if (this.lastTs !== undefined) {
        // on from the last packet sent, by the time since (at least one 2.5 ms Opus frame)
        const gap = Math.max(Math.round((this.clock * 2.5) / 1000), Math.round(((nowMs - this.lastAtMs) * this.clock) / 1000));
        outFirstTs = (this.lastTs + gap) >>> 0;
        packet[1] = packet[1]! | 0x80;
      }
      this.segment = { inFirstTs: inTs, outFirstTs };
      if (this.nextSeq === undefined) this.nextSeq = inSeq;
    }
    const outTs = (this.segment.outFirstTs + ((inTs - this.segment.inFirstTs) >>> 0)) >>> 0;
    packet.writeUInt16BE(this.nextSeq!, 2);
    packet.writeUInt32BE(outTs, 4);
    packet.writeUInt32BE(this.ssrc >>> 0, 8);
    this.nextSeq = (this.nextSeq! + 1) & 0xffff;
    this.lastTs = outTs;
    this.lastAtMs = nowMs;
    return packet;
  }
}

/**
 * A capture that ended by itself within this long of its last packet is started again, once a
 * second: sound worked, so the sound server went away (the runtime starts it again within ~6 s).
 * A capture that never sent a packet, or that keeps failing for longer, is given up and said.
 */
export const CAPTURE_RETRY_WINDOW_MS = 15_000;
export const CAPTURE_RESTART_DELAY_MS = 1_000;

/** Pure: after a capture process ended that nobody stopped, start another or give up and say so? */
export function afterCaptureExit(lastPacketAt: number | undefined, now: number): 'restart' | 'give-up' {
  return lastPacketAt !== undefined && now - lastPacketAt < CAPTURE_RETRY_WINDOW_MS ? 'restart' : 'give-up';
}

/** Pure: gst-launch's error lines -> the sentence the viewer sees. */
export function captureProblem(stderr: string[], code: number | null, signal: string | null): string {
  const error = stderr.find((l) => l.startsWith('ERROR:'));
  const detail = error?.replace(/^ERROR: from element \S+: /, '').replace(/^ERROR: /, '').trim();
  if (detail && /connect|refused|No such file/i.test(detail)) return `The desktop's sound server is not running (${detail}).`;
  if (detail) return `The desktop's sound could not be captured: ${detail}`;
  return `The desktop's sound capture stopped (${code ?? signal}).`;
}

/** One capture process: gst-launch-1.0 writing RFC 4571-framed RTP to its stdout. */
class Capture {
  private proc?: ChildProcess;
  private readonly stderr: string[] = [];
  private stopped = false;

  constructor(gstLaunch: string, argv: string[], env: NodeJS.ProcessEnv, onRtp: (p: Buffer) => void, onExit: (problem: string) => void, log: (msg: string) => void) {
    const proc = spawn(gstLaunch, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = proc;
    let media = Buffer.alloc(0);
    proc.stdout!.on('data', (chunk: Buffer) => {
      const { packets, rest } = splitFramed(media.length ? Buffer.concat([media, chunk]) : chunk);
      media = Buffer.from(rest);
      for (const p of packets) onRtp(p);
    });
    let pending = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i).trim();
        pending = pending.slice(i + 1);
        if (!line) continue;
        if (this.stderr.length < 20) this.stderr.push(line);
        log(`audio capture: ${line}`);
      }
    });
    proc.on('error', (err) => {
      this.stderr.unshift(`ERROR: ${err.message}`);
    });
    proc.on('close', (code, signal) => {
      this.proc = undefined;
      if (!this.stopped) onExit(captureProblem(this.stderr, code, signal));
    });
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  stop(): void {
    this.stopped = true;
    const proc = this.proc;
    if (!proc) return;
    proc.kill('SIGTERM');
    setTimeout(() => this.proc === proc && proc.kill('SIGKILL'), 1000).unref();
  }
}

export interface SoundOptions {
  setup: AudioSetup;
  /** the negotiated Opus format; undefined when the offer had none */
  opus: PickedOpus | undefined;
  ssrc: number;
  env: NodeJS.ProcessEnv;
  /** an RTP packet for the audio track */
  sendRtp(packet: Buffer): void;
  /** tell the viewer (the "input" DataChannel) */
  state(message: AudioStateMessage): void;
  log(msg: string): void;
}

/** The viewer's sound switch: off at first; on starts a capture, off ends it. */
export class Sound {
  private wanted = false;
  private capture?: Capture;
  private sending = false;
  private restartTimer?: NodeJS.Timeout;
  private ended = false;
  /** when the last packet came, while the viewer wants sound (undefined: none since it asked) */
  private lastPacketAt?: number;
  private readonly rtp: RtpContinuity;
  private readonly availability: ReturnType<typeof audioAvailability>;

  constructor(private readonly o: SoundOptions) {
    this.rtp = new RtpContinuity(o.ssrc);
    this.availability = audioAvailability(o.setup, o.opus);
  }

  get available(): boolean {
    return this.availability.available;
  }

  /** the capture process's pid while one runs */
  get capturePid(): number | undefined {
    return this.capture?.pid;
  }

  /** What the viewer is told when its channel opens, and after every change. */
  current(message?: string): AudioStateMessage {
    if (!this.availability.available) return { t: 'audio', available: false, on: false, message: this.availability.message };
    return { t: 'audio', available: true, on: this.sending, ...(message ? { message } : {}) };
  }

  set(on: boolean): void {
    if (this.ended) return;
    if (!this.availability.available) return this.o.state(this.current());
    if (on && !this.wanted) this.lastPacketAt = undefined;
    this.wanted = on;
    if (on && !this.capture) this.start();
    else if (on) this.o.state(this.current());
    if (!on) {
      this.halt();
      this.o.state(this.current());
    }
  }

  private start(): void {
    const setup = this.o.setup;
    if (!setup.ok || !this.o.opus) return;
    clearTimeout(this.restartTimer);
    this.rtp.restart();
    const argv = captureArgv({ server: setup.server, device: setup.device, payloadType: this.o.opus.payloadType, ssrc: this.o.ssrc, bitrate: setup.bitrate, frameMs: setup.frameMs });
    const capture: Capture = new Capture(
      setup.gstLaunch,
      argv,
      this.o.env,
      (packet) => {
        if (this.capture !== capture) return;
        this.lastPacketAt = Date.now();
        if (!this.sending) {
          this.sending = true;
          this.o.log('audio on');
          this.o.state(this.current());
        }
        this.o.sendRtp(this.rtp.rewrite(packet, Date.now()));
      },
      (problem) => {
        if (this.capture !== capture) return;
        this.capture = undefined;
        if (this.ended || !this.wanted) return;
        if (afterCaptureExit(this.lastPacketAt, Date.now()) === 'restart') {
          // Still "on" to the viewer: the sound comes back by itself, or a later failure is said.
          this.o.log(`audio capture ended, starting it again: ${problem}`);
          this.restartTimer = setTimeout(() => this.wanted && !this.ended && !this.capture && this.start(), CAPTURE_RESTART_DELAY_MS);
        } else {
          this.sending = false;
          this.wanted = false;
          this.o.log(`audio capture failed: ${problem}`);
          this.o.state(this.current(problem));
        }
      },
      this.o.log,
    );
    this.capture = capture;
  }

  private halt(): void {
    clearTimeout(this.restartTimer);
    const capture = this.capture;
    this.capture = undefined;
    this.sending = false;
    capture?.stop();
  }

  /** The viewer ended. */
  stop(): void {
    this.ended = true;
    this.halt();
  }
}
