/**
 * The encoder helper (encoder/porthole-enc.c) as a child process: it captures the display, encodes and
 * writes RTP to its stdout (each packet after its 16-bit length, RFC 4571); commands go to its stdin,
 * its state comes back on stderr. Closing stdin ends it, so it never outlives the streamer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { CodecName } from './codec.js';

/** Pure: split an RFC 4571 byte stream into packets; returns the packets and what is left over. */
export function splitFramed(buffer: Buffer): { packets: Buffer[]; rest: Buffer } {
  const packets: Buffer[] = [];
  let at = 0;
  while (at + 2 <= buffer.length) {
    const len = buffer.readUInt16BE(at);
    if (at + 2 + len > buffer.length) break;
    packets.push(buffer.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return { packets, rest: buffer.subarray(at) };
}

export interface EncoderStats {
  fps: number;
  kbps: number;
  frames: number;
  keyframes: number;
  idle: boolean;
  captureMs: number;
}

export interface EncoderOptions {
  helper: string;
  codec: CodecName;
  payloadType: number;
  ssrc: number;
  bitrateKbps: number;
  fps: number;
  /** 'software' or 'vaapi' (where the node has /dev/dri) */
  implementation: string;
  env: NodeJS.ProcessEnv;
  onRtp: (packet: Buffer) => void;
  onStats?: (stats: EncoderStats) => void;
  onScreen?: (width: number, height: number) => void;
  onExit?: (why: string) => void;
  log?: (msg: string) => void;
}

/** Pure: a helper stats line -> numbers. */
export function parseStatsLine(line: string): EncoderStats | undefined {
  if (!line.startsWith('stats ')) return undefined;
  const f = Object.fromEntries(line.slice(6).split(' ').map((kv) => kv.split('=')));
  return { fps: Number(f.fps), kbps: Number(f.kbps), frames: Number(f.frames), keyframes: Number(f.keyframes), idle: f.idle === '1', captureMs: Number(f.capture_ms) };
}

/** A PLI storm after a loss must not become a key-frame storm: at most one forced key frame per 300 ms. */
export const KEYFRAME_MIN_INTERVAL_MS = 300;

export class Encoder {
  private proc?: ChildProcess;
  private lastKeyframe = 0;
  private exited = false;
  readyLine = '';

  constructor(private readonly o: EncoderOptions) {}

  /** Resolves once the helper captures (its "ready" line); rejects with its error line otherwise. */
  async start(): Promise<void> {
    const args = ['--codec', this.o.codec, '--pt', String(this.o.payloadType), '--ssrc', String(this.o.ssrc), '--bitrate', String(this.o.bitrateKbps), '--fps', String(this.o.fps), '--encoder', this.o.implementation];
    const proc = spawn(this.o.helper, args, { stdio: ['pipe', 'pipe', 'pipe'], env: this.o.env });
    this.proc = proc;
    let media = Buffer.alloc(0);
    proc.stdout!.on('data', (chunk: Buffer) => {
      const { packets, rest } = splitFramed(media.length ? Buffer.concat([media, chunk]) : chunk);
      // a copy of the remainder only: the packets are handed on and sent before the next chunk comes
      media = Buffer.from(rest);
      for (const p of packets) this.o.onRtp(p);
    });
    let pending = '';
    let ready: (v: void) => void = () => undefined;
    let failed: (e: Error) => void = () => undefined;
    const started = new Promise<void>((ok, fail) => {
      ready = ok;
      failed = fail;
    });
    proc.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        const stats = parseStatsLine(line);
        if (stats) this.o.onStats?.(stats);
        else if (line.startsWith('ready ')) {
          this.readyLine = line;
          ready();
        } else if (line.startsWith('screen ')) {
          const [w, h] = line.slice(7).split('x').map(Number);
          if (w && h) this.o.onScreen?.(w, h);
        } else if (line.startsWith('error ')) {
          failed(new Error(line.slice(6)));
          this.o.log?.(line);
        } else if (!line.startsWith('ok ')) this.o.log?.(line);
      }
    });
    proc.on('error', (err) => failed(err));
    proc.on('exit', (code, signal) => {
      this.exited = true;
      failed(new Error(`the encoder exited (${code ?? signal}) before it was ready`));
      this.o.onExit?.(`the encoder exited (${code ?? signal})`);
    });
    proc.stdin!.on('error', () => undefined); // it may be gone already
    await started;
  }

  private command(line: string): void {
    if (!this.exited && this.proc?.stdin?.writable) this.proc.stdin.write(`${line}\n`);
  }

  /** PLI or FIR from the receiver: a key frame now, unless one was just sent. */
  keyframe(): boolean {
    const now = Date.now();
    if (now - this.lastKeyframe < KEYFRAME_MIN_INTERVAL_MS) return false;
    this.lastKeyframe = now;
    this.command('keyframe');
    return true;
  }

  setBitrate(kbps: number): void {
    this.command(`bitrate ${Math.round(kbps)}`);
  }

  setFps(fps: number): void {
    this.command(`fps ${Math.round(fps)}`);
  }

  stop(): void {
    this.proc?.stdin?.end(); // the helper ends when its stdin does
    const proc = this.proc;
    if (proc && !this.exited) setTimeout(() => !this.exited && proc.kill('SIGKILL'), 2000).unref();
  }
}
