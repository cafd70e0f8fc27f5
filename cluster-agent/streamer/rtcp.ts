/**
 * The RTCP feedback a sender acts on (RFC 4585 NACK/PLI, RFC 5104 FIR, REMB, receiver reports), from a
 * decrypted compound RTCP packet: node-datachannel hands the application the raw RTCP. Pure.
 */
export type Feedback =
  | { kind: 'pli' }
  | { kind: 'fir' }
  | { kind: 'remb'; bitrate: number }
  | { kind: 'nack'; lost: number[] }
  | { kind: 'report'; fractionLost: number; jitter: number; rttMs?: number };

/** `now32`: the middle 32 bits of the NTP time now, for the round trip from LSR/DLSR. */
export function parseRtcp(buf: Buffer, now32?: number): Feedback[] {
  const out: Feedback[] = [];
  let o = 0;
  while (o + 4 <= buf.length) {
    const b0 = buf[o]!;
    const pt = buf[o + 1]!;
    const len = (buf.readUInt16BE(o + 2) + 1) * 4;
    if (b0 >> 6 !== 2 || o + len > buf.length) break;
    const fmt = b0 & 0x1f;
    const p = buf.subarray(o, o + len);
    if (pt === 206 && len >= 12) {
      if (fmt === 1) out.push({ kind: 'pli' });
      else if (fmt === 4) out.push({ kind: 'fir' });
      else if (fmt === 15 && len >= 20 && p.toString('latin1', 12, 16) === 'REMB') {
        const exp = p[17]! >> 2;
        const mantissa = ((p[17]! & 3) << 16) | p.readUInt16BE(18);
        out.push({ kind: 'remb', bitrate: mantissa * 2 ** exp });
      }
    } else if (pt === 205 && len >= 12 && fmt === 1) {
      const lost: number[] = [];
      for (let i = 12; i + 4 <= len; i += 4) {
        const pid = p.readUInt16BE(i);
        const blp = p.readUInt16BE(i + 2);
        lost.push(pid);
        for (let k = 0; k < 16; k++) if (blp & (1 << k)) lost.push((pid + k + 1) & 0xffff);
      }
      out.push({ kind: 'nack', lost });
    } else if ((pt === 201 || pt === 200) && fmt > 0) {
      const base = pt === 200 ? 28 : 8;
      if (len >= base + 24) {
        const lsr = p.readUInt32BE(base + 16);
        const dlsr = p.readUInt32BE(base + 20);
        const rtt = now32 !== undefined && lsr !== 0 ? (((now32 - lsr - dlsr) >>> 0) / 65536) * 1000 : undefined;
        out.push({ kind: 'report', fractionLost: p[base + 4]! / 256, jitter: p.readUInt32BE(base + 12), ...(rtt !== undefined && rtt < 10_000 ? { rttMs: rtt } : {}) });
      }
    }
    o += len;
  }
  return out;
}
