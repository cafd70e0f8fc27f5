/**
 * A small TURN client (RFC 5389 STUN, RFC 5766 TURN) for asking a real coturn what it allows: Allocate
 * with long-term credentials (the REST-API user name and password the agent mints) and CreatePermission
 * for a peer address, over UDP or TCP. It reports the server's answer (success, or the error code and
 * reason) rather than throwing, so a test can assert a refusal.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv4, type Socket as TcpSocket } from 'node:net';

const MAGIC = 0x2112a442;
const METHOD = { allocate: 0x003, refresh: 0x004, createPermission: 0x008 } as const;
const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
} as const;
/** REQUESTED-TRANSPORT protocol numbers. */
export const TRANSPORT = { udp: 17, tcp: 6 } as const;

export type TurnAnswer = { ok: true; relayed?: { address: string; port: number } } | { ok: false; code: number; reason: string };

interface Message {
  cls: 'success' | 'error' | 'other';
  method: number;
  tid: Buffer;
  attrs: Map<number, Buffer>;
}

function encodeAttr(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

function header(method: number, length: number, tid: Buffer): Buffer {
  const h = Buffer.alloc(20);
  // A request: class bits 0; the method's bits sit around them (RFC 5389 section 6).
  h.writeUInt16BE((method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2), 0);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(MAGIC, 4);
  tid.copy(h, 8);
  return h;
}

/** A request; with a key, MESSAGE-INTEGRITY over everything before it (the length counting it). */
function encodeRequest(method: number, tid: Buffer, attrs: Buffer[], key?: Buffer): Buffer {
  const body = Buffer.concat(attrs);
  if (!key) return Buffer.concat([header(method, body.length, tid), body]);
  const signed = Buffer.concat([header(method, body.length + 24, tid), body]);
  const mi = createHmac('sha1', key).update(signed).digest();
  return Buffer.concat([signed, encodeAttr(ATTR.messageIntegrity, mi)]);
}

function decode(buf: Buffer): Message | undefined {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) return undefined;
  const type = buf.readUInt16BE(0);
  const c = ((type >> 4) & 1) | ((type >> 7) & 2);
  const method = (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
  const attrs = new Map<number, Buffer>();
  const end = Math.min(buf.length, 20 + buf.readUInt16BE(2));
  for (let off = 20; off + 4 <= end; ) {
    const t = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (!attrs.has(t)) attrs.set(t, buf.subarray(off + 4, off + 4 + len));
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { cls: c === 2 ? 'success' : c === 3 ? 'error' : 'other', method, tid: buf.subarray(8, 20), attrs };
}

function xorAddress(address: string, port: number): Buffer {
  if (!isIPv4(address)) throw new Error(`this client speaks IPv4 peers only, got ${address}`);
  const v = Buffer.alloc(8);
  v.writeUInt8(0x01, 1);
  v.writeUInt16BE(port ^ (MAGIC >>> 16), 2);
  const n = address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  v.writeUInt32BE((n ^ MAGIC) >>> 0, 4);
  return v;
}

function readXorAddress(v: Buffer): { address: string; port: number } {
  const port = v.readUInt16BE(2) ^ (MAGIC >>> 16);
  const n = (v.readUInt32BE(4) ^ MAGIC) >>> 0;
  return { address: [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.'), port };
}

function errorOf(m: Message): { code: number; reason: string } {
  const v = m.attrs.get(ATTR.errorCode);
  if (!v) return { code: 0, reason: 'error response without ERROR-CODE' };
  return { code: (v.readUInt8(2) & 0x7) * 100 + v.readUInt8(3), reason: v.subarray(4).toString('utf8') };
}

export class TurnClient {
  private realm?: Buffer;
  private nonce?: Buffer;
  private username?: string;
  private key?: Buffer;
  private waiting = new Map<string, (m: Message) => void>();

  private constructor(
    private readonly send: (b: Buffer) => void,
    private readonly closeTransport: () => void,
    private readonly reliable: boolean,
  ) {}

  static async open(transport: 'udp' | 'tcp', host: string, port: number): Promise<TurnClient> {
    if (transport === 'udp') {
      const sock: UdpSocket = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      const client = new TurnClient((b) => sock.send(b, port, host), () => sock.close(), false);
      sock.on('message', (b) => client.receive(b));
      return client;
    }
    const sock: TcpSocket = await new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new TurnClient((b) => sock.write(b), () => sock.destroy(), true);
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Over TCP, STUN messages follow each other; each says its length.
      while (pending.length >= 20 && pending.length >= 20 + pending.readUInt16BE(2)) {
        const size = 20 + pending.readUInt16BE(2);
        client.receive(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    });
    return client;
  }

  close(): void {
    this.closeTransport();
  }

  private receive(b: Buffer): void {
    const m = decode(b);
    if (!m) return;
    this.waiting.get(m.tid.toString('hex'))?.(m);
  }

  /** Sends a request and waits for its answer; over UDP it is resent (RFC 5389's 500 ms doubling, shortened). */
  private async transact(method: number, attrs: Buffer[], signed: boolean): Promise<Message> {
    const tid = randomBytes(12);
    const authAttrs = signed ? [encodeAttr(ATTR.username, Buffer.from(this.username!, 'utf8')), encodeAttr(ATTR.realm, this.realm!), encodeAttr(ATTR.nonce, this.nonce!)] : [];
    const wire = encodeRequest(method, tid, [...attrs, ...authAttrs], signed ? this.key : undefined);
    return new Promise<Message>((resolve, reject) => {
      const id = tid.toString('hex');
      let timer: NodeJS.Timeout | undefined;
      let waitMs = 250;
      let sent = 0;
      const done = (m: Message) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(m);
      };
      const attempt = () => {
        if (sent === (this.reliable ? 1 : 6)) {
          this.waiting.delete(id);
          reject(new Error(`no answer from the TURN server to method 0x${method.toString(16)}`));
          return;
        }
        sent += 1;
        this.send(wire);
        timer = setTimeout(attempt, this.reliable ? 5_000 : waitMs);
        waitMs *= 2;
      };
      this.waiting.set(id, done);
      attempt();
    });
  }

  /** A signed request, retried once with the server's new nonce when it says the nonce is stale (438). */
  private async signed(method: number, attrs: Buffer[]): Promise<Message> {
    let m = await this.transact(method, attrs, true);
    if (m.cls === 'error' && errorOf(m).code === 438) {
      this.nonce = m.attrs.get(ATTR.nonce) ?? this.nonce;
      m = await this.transact(method, attrs, true);
    }
    return m;
  }

  /**
   * Allocate a relay with the long-term credential (RFC 5389 section 10.2): the first request goes
   * without one to learn realm and nonce from the 401, the second is signed with MD5(user:realm:password).
   */
  async allocate(username: string, password: string, transport: number = TRANSPORT.udp): Promise<TurnAnswer> {
    const requested = encodeAttr(ATTR.requestedTransport, Buffer.from([transport, 0, 0, 0]));
    const challenge = await this.transact(METHOD.allocate, [requested], false);
    if (challenge.cls !== 'error' || errorOf(challenge).code !== 401) throw new Error(`expected a 401 challenge, got ${challenge.cls} ${JSON.stringify(errorOf(challenge))}`);
    this.realm = challenge.attrs.get(ATTR.realm);
    this.nonce = challenge.attrs.get(ATTR.nonce);
    if (!this.realm || !this.nonce) throw new Error('the 401 challenge carried no REALM or NONCE');
    this.username = username;
    this.key = createHash('md5').update(`${username}:${this.realm.toString('utf8')}:${password}`).digest();
    const m = await this.signed(METHOD.allocate, [requested]);
    if (m.cls !== 'success') return { ok: false, ...errorOf(m) };
    const relayed = m.attrs.get(ATTR.xorRelayedAddress);
    return { ok: true, ...(relayed ? { relayed: readXorAddress(relayed) } : {}) };
  }

  /** Ask for permission to relay to a peer (after a successful allocate). */
  async createPermission(peer: string): Promise<TurnAnswer> {
    const m = await this.signed(METHOD.createPermission, [encodeAttr(ATTR.xorPeerAddress, xorAddress(peer, 0))]);
    return m.cls === 'success' ? { ok: true } : { ok: false, ...errorOf(m) };
  }

  /** Give the allocation back (Refresh with LIFETIME 0). */
  async release(): Promise<void> {
    const lifetime = Buffer.alloc(4);
    await this.signed(METHOD.refresh, [encodeAttr(ATTR.lifetime, lifetime)]).catch(() => undefined);
  }
}
