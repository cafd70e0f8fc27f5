/**
 * A deliberately small RFB 3.8 client for tests and benchmarks: handshake (None or VncAuth), Raw
 * encoding, framebuffer update requests and reading updates. It speaks over a TCP/Unix socket or a
 * WebSocket (the agent's gateway, websockify), so every path is measured with the same code.
 */
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { vncAuthResponse } from '../../cluster-agent/vnc/des.js';

export interface ServerInit {
  width: number;
  height: number;
  bitsPerPixel: number;
  name: string;
}

export interface FramebufferUpdate {
  rects: { x: number; y: number; w: number; h: number; encoding: number; bytes: number; data?: Buffer }[];
  bytes: number;
}

/** Byte transport with a pull-style reader. */
class Transport {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter?: () => void;
  private closedError?: Error;
  bytesIn = 0;

  constructor(
    private readonly write: (b: Buffer) => void,
    readonly close: () => void,
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.bytesIn += chunk.length;
    this.waiter?.();
  }

  fail(error: Error): void {
    this.closedError ??= error;
    this.waiter?.();
  }

  send(b: Buffer): void {
    this.write(b);
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.closedError) throw this.closedError;
      await new Promise<void>((ok) => (this.waiter = ok));
      this.waiter = undefined;
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

export type Target =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'ws'; url: string; protocols?: string[] };

async function open(target: Target): Promise<Transport> {
  if (target.kind === 'ws') {
    const ws = new WebSocket(target.url, target.protocols ?? ['binary']);
    ws.binaryType = 'nodebuffer';
    const t = new Transport((b) => ws.send(b), () => ws.close());
    ws.on('message', (d: Buffer) => t.push(d));
    ws.on('close', (code, reason) => t.fail(new Error(`WebSocket closed ${code} ${reason.toString()}`)));
    ws.on('unexpected-response', (_req, res) => t.fail(new Error(`HTTP ${res.statusCode} before upgrade`)));
    ws.on('error', (e) => t.fail(e));
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode} before upgrade`)));
    });
    return t;
  }
  const socket: Socket = target.kind === 'tcp' ? netConnect(target.port, target.host) : netConnect(target.path);
  socket.setNoDelay(true);
  const t = new Transport((b) => socket.write(b), () => socket.destroy());
  socket.on('data', (d) => t.push(d));
  socket.on('close', () => t.fail(new Error('socket closed')));
  socket.on('error', (e) => t.fail(e));
  await new Promise<void>((ok, fail) => {
    socket.once('connect', () => ok());
    socket.once('error', fail);
  });
  return t;
}

export class RfbClient {
  private constructor(
    private readonly t: Transport,
    readonly init: ServerInit,
    /** security types the server offered */
    readonly offeredSecurityTypes: number[],
  ) {}

  get bytesIn(): number {
    return this.t.bytesIn;
  }

  /** Connects and completes the handshake; with a password it answers VncAuth, else it picks None. */
  static async connect(target: Target, password?: string): Promise<RfbClient> {
    const t = await open(target);
    const version = (await t.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    t.send(Buffer.from('RFB 003.008\n', 'latin1'));
    const count = (await t.read(1))[0]!;
    if (count === 0) {
      const len = (await t.read(4)).readUInt32BE(0);
      throw new Error(`server refused: ${(await t.read(len)).toString()}`);
    }
    const types = [...(await t.read(count))];
    const wanted = password !== undefined ? 2 : 1;
    if (!types.includes(wanted)) throw new Error(`server offers security types ${types.join(',')}, not ${wanted}`);
    t.send(Buffer.from([wanted]));
    if (wanted === 2) t.send(vncAuthResponse(password!, await t.read(16)));
    const result = (await t.read(4)).readUInt32BE(0);
    if (result !== 0) {
      const len = (await t.read(4)).readUInt32BE(0);
      throw new Error(`authentication failed: ${(await t.read(len)).toString()}`);
    }
    t.send(Buffer.from([1])); // ClientInit: shared
    const head = await t.read(24);
    const name = (await t.read(head.readUInt32BE(20))).toString('utf8');
    const client = new RfbClient(t, { width: head.readUInt16BE(0), height: head.readUInt16BE(2), bitsPerPixel: head[4]!, name }, types);
    client.useRawTrueColour();
    return client;
  }

  /** 32 bpp little-endian true colour, Raw encoding only: predictable bytes for measuring. */
  private useRawTrueColour(): void {
    const pf = Buffer.alloc(20);
    pf[0] = 0; // SetPixelFormat
    pf.set([32, 24, 0, 1], 4);
    pf.writeUInt16BE(255, 8);
    pf.writeUInt16BE(255, 10);
    pf.writeUInt16BE(255, 12);
    pf.set([16, 8, 0], 14);
    const enc = Buffer.alloc(8);
    enc[0] = 2; // SetEncodings
    enc.writeUInt16BE(1, 2);
    enc.writeInt32BE(0, 4); // Raw
    this.t.send(Buffer.concat([pf, enc]));
  }

  requestUpdate(incremental: boolean, x = 0, y = 0, w = this.init.width, h = this.init.height): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(x, 2);
    b.writeUInt16BE(y, 4);
    b.writeUInt16BE(w, 6);
    b.writeUInt16BE(h, 8);
    this.t.send(b);
  }

  /** Sends a key press or release (X keysym). */
  keyEvent(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b[0] = 4;
    b[1] = down ? 1 : 0;
    b.writeUInt32BE(keysym, 4);
    this.t.send(b);
  }

  /** Sends a key press and release (X keysym). */
  key(keysym: number): void {
    this.keyEvent(keysym, true);
    this.keyEvent(keysym, false);
  }

  /** Types printable ASCII (keysym = code point) and presses Return. */
  typeLine(text: string): void {
    for (const ch of text) this.key(ch.charCodeAt(0));
    this.key(0xff0d);
  }

  /** Reads server messages until a FramebufferUpdate arrives; keepData retains the pixels. */
  async nextUpdate(keepData = false): Promise<FramebufferUpdate> {
    for (;;) {
      const type = (await this.t.read(1))[0]!;
      if (type === 0) {
        const n = (await this.t.read(3)).readUInt16BE(1);
        const update: FramebufferUpdate = { rects: [], bytes: 0 };
        for (let i = 0; i < n; i++) {
          const r = await this.t.read(12);
          const rect = { x: r.readUInt16BE(0), y: r.readUInt16BE(2), w: r.readUInt16BE(4), h: r.readUInt16BE(6), encoding: r.readInt32BE(8), bytes: 0 } as FramebufferUpdate['rects'][number];
          if (rect.encoding === 0) {
            rect.bytes = rect.w * rect.h * 4;
            const data = await this.t.read(rect.bytes);
            if (keepData) rect.data = Buffer.from(data);
          } else if (rect.encoding !== -223 && rect.encoding !== -224) {
            throw new Error(`unexpected encoding ${rect.encoding}`); // only Raw and size pseudo-encodings were asked for
          }
          update.bytes += rect.bytes;
          update.rects.push(rect);
        }
        return update;
      } else if (type === 1) {
        const n = (await this.t.read(5)).readUInt16BE(3);
        await this.t.read(n * 6);
      } else if (type === 2) {
        // Bell
      } else if (type === 3) {
        const len = (await this.t.read(7)).readUInt32BE(3);
        await this.t.read(len & 0x7fffffff);
      } else {
        throw new Error(`unexpected server message ${type}`);
      }
    }
  }

  close(): void {
    this.t.close();
  }
}

/** Distinct colours in a Raw 32bpp update: a drawn desktop has many, a blank one one. */
export function distinctColours(update: FramebufferUpdate): number {
  const colours = new Set<number>();
  for (const rect of update.rects) {
    if (!rect.data) continue;
    for (let i = 0; i + 3 < rect.data.length; i += 4 * 31) colours.add(rect.data.readUInt32LE(i) & 0xffffff);
  }
  return colours.size;
}
