/**
 * Readiness probes for a starting desktop, speaking just enough protocol to be sure:
 * the VNC socket answers with an RFB banner, and the X display has a window manager
 * (_NET_SUPPORTING_WM_CHECK on the root window, set by openbox, xfwm4 and every EWMH WM).
 */
import { connect, type Socket } from 'node:net';
import { SocketReader } from './socket-reader.js';

async function withSocket<T>(path: string, timeoutMs: number, use: (socket: Socket, reader: SocketReader) => Promise<T>): Promise<T> {
  const socket = connect(path);
  const reader = new SocketReader(socket);
  const timer = setTimeout(() => socket.destroy(new Error(`no answer on ${path} within ${timeoutMs} ms`)), timeoutMs);
  try {
    await new Promise<void>((ok, fail) => {
      socket.once('connect', ok);
      socket.once('error', fail);
    });
    return await use(socket, reader);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** True when an RFB server accepts on the Unix socket and sends its version banner. */
export async function vncSocketAnswers(path: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    return await withSocket(path, timeoutMs, async (_socket, reader) => /^RFB \d{3}\.\d{3}\n$/.test((await reader.read(12)).toString('latin1')));
  } catch {
    return false;
  }
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Pure: the X11 connection setup request (little-endian) with an MIT-MAGIC-COOKIE-1. */
export function x11SetupRequest(cookie: Buffer): Buffer {
  const name = Buffer.from('MIT-MAGIC-COOKIE-1', 'latin1');
  const head = Buffer.alloc(12);
  head.write('l', 0, 'latin1');
  head.writeUInt16LE(11, 2);
  head.writeUInt16LE(0, 4);
  head.writeUInt16LE(name.length, 6);
  head.writeUInt16LE(cookie.length, 8);
  return Buffer.concat([head, name, Buffer.alloc(pad4(name.length)), cookie, Buffer.alloc(pad4(cookie.length))]);
}

/** Pure: the root window of screen 0 from a successful setup reply (header + additional data). */
export function rootWindowFromSetup(reply: Buffer): number {
  const vendorLength = reply.readUInt16LE(24);
  const formats = reply.readUInt8(29);
  const screen = 40 + vendorLength + pad4(vendorLength) + 8 * formats;
  return reply.readUInt32LE(screen);
}

function internAtomRequest(name: string): Buffer {
  const bytes = Buffer.from(name, 'latin1');
  const req = Buffer.alloc(8 + bytes.length + pad4(bytes.length));
  req.writeUInt8(16, 0); // InternAtom
  req.writeUInt8(1, 1); // only-if-exists: a WM that ran would have created it
  req.writeUInt16LE(req.length / 4, 2);
  req.writeUInt16LE(bytes.length, 4);
  bytes.copy(req, 8);
  return req;
}

function getPropertyRequest(window: number, atom: number): Buffer {
  const req = Buffer.alloc(24);
  req.writeUInt8(20, 0); // GetProperty
  req.writeUInt16LE(6, 2);
  req.writeUInt32LE(window, 4);
  req.writeUInt32LE(atom, 8);
  req.writeUInt32LE(0, 12); // AnyPropertyType
  req.writeUInt32LE(0, 16);
  req.writeUInt32LE(1, 20);
  return req;
}

/** Reads the next reply, skipping events; throws on an X error. */
async function readReply(reader: SocketReader): Promise<Buffer> {
  for (;;) {
    const head = await reader.read(32);
    if (head[0] === 0) throw new Error(`X error ${head[1]}`);
    if (head[0] !== 1) continue; // an event
    const extra = head.readUInt32LE(4) * 4;
    return extra ? Buffer.concat([head, await reader.read(extra)]) : head;
  }
}

export type X11Probe = 'no-server' | 'no-wm' | 'wm';

/** Connects to an X display's socket with the cookie and says whether an EWMH window manager is running. */
export async function probeX11(socketPath: string, cookie: Buffer, timeoutMs = 1_000): Promise<X11Probe> {
  try {
    return await withSocket(socketPath, timeoutMs, async (socket, reader) => {
      socket.write(x11SetupRequest(cookie));
      const head = await reader.read(8);
      const rest = await reader.read(head.readUInt16LE(6) * 4);
      if (head[0] !== 1) return 'no-server'; // refused (bad cookie) or needs more auth
      const root = rootWindowFromSetup(Buffer.concat([head, rest]));
      socket.write(internAtomRequest('_NET_SUPPORTING_WM_CHECK'));
      const atom = (await readReply(reader)).readUInt32LE(8);
      if (atom === 0) return 'no-wm';
      socket.write(getPropertyRequest(root, atom));
      const prop = await readReply(reader);
      const format = prop.readUInt8(1);
      const items = prop.readUInt32LE(16);
      return format === 32 && items >= 1 ? 'wm' : 'no-wm';
    });
  } catch {
    return 'no-server';
  }
}
