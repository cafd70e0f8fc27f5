/**
 * The encoder helper's own AV1 (libaom called directly, its own packetization: no rtpav1pay in this
 * GStreamer), on real parts: the built
 * porthole-enc on an Xvfb display with changing content, its RFC 4571 stream read back and checked
 * against the AV1 RTP payload format: one timestamp and a marker on the last packet of each temporal
 * unit, consecutive sequence numbers, the aggregation header's Z/Y chaining fragments, N on the unit
 * with a sequence header, OBUs reassembled whole with no size field and no temporal delimiter, within
 * the MTU. A key frame when asked (GStreamer 1.22's av1enc ignored the request, so a lost first key
 * frame was never repaired), and a live bitrate change, which made libaom 3.6 abort until the quantizer
 * bounds were set. (Chromium decoding it: test/agent/webrtc-stream.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitFramed } from '../../cluster-agent/streamer/encoder.js';
import { builtStreamer } from '../support/streamer.js';

const DISPLAY = ':187';
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function leb128(b: Buffer, at: number): { value: number; len: number } {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    value += (b[at + i]! & 0x7f) * 2 ** (7 * i);
    if (!(b[at + i]! & 0x80)) return { value, len: i + 1 };
  }
  throw new Error('bad leb128');
}

describe('AV1 from the encoder helper', () => {
  it('is packetized as the AV1 RTP payload format asks, makes a key frame when asked, and survives a live bitrate change', { timeout: 30_000 }, async () => {
    const { dir } = builtStreamer();
    children.push(spawn('Xvfb', [DISPLAY, '-screen', '0', '640x480x24', '-nolisten', 'tcp'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 700));
    // Changing content: a terminal writing random text.
    children.push(spawn('xterm', ['-fn', 'fixed', '-e', 'sh', '-c', 'while :; do head -c 3000 /dev/urandom | base64; sleep 0.05; done'], { env: { ...process.env, DISPLAY }, stdio: 'ignore' }));
    const enc = spawn(join(dir, 'porthole-enc'), ['--codec', 'av1', '--pt', '45', '--ssrc', '77', '--mtu', '1200', '--bitrate', '2000', '--fps', '30'], { env: { ...process.env, DISPLAY }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(enc);
    let err = '';
    enc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const packets: Buffer[] = [];
    let rest = Buffer.alloc(0);
    enc.stdout!.on('data', (d: Buffer) => {
      const split = splitFramed(Buffer.concat([rest, d]));
      packets.push(...split.packets.map((p) => Buffer.from(p)));
      rest = Buffer.from(split.rest);
    });
    await new Promise((r) => setTimeout(r, 2500));
    enc.stdin!.write('bitrate 600\nkeyframe\n');
    await new Promise((r) => setTimeout(r, 1500));
    enc.stdin!.write('quit\n');
    const code = await new Promise<number | null>((r) => enc.once('exit', (c) => r(c)));
    expect(code, err).toBe(0);
    expect(err).toContain('ok bitrate 600');

    expect(packets.length).toBeGreaterThan(20);
    const units: Buffer[][] = [];
    let unit: Buffer[] = [];
    for (const [i, p] of packets.entries()) {
      expect(p.length).toBeLessThanOrEqual(1200);
      expect(p[0]).toBe(0x80); // version 2, no padding, extension or CSRC
      expect(p[1]! & 0x7f).toBe(45);
      expect(p.readUInt32BE(8)).toBe(77);
      if (i > 0) expect(p.readUInt16BE(2)).toBe((packets[i - 1]!.readUInt16BE(2) + 1) & 0xffff);
      if (unit.length) expect(p.readUInt32BE(4)).toBe(unit[0]!.readUInt32BE(4)); // one timestamp per unit
      unit.push(p);
      if (p[1]! & 0x80) {
        units.push(unit);
        unit = [];
      }
    }
    expect(units.length).toBeGreaterThan(10);

    let sequenceHeaders = 0;
    for (const u of units) {
      const obus: Buffer[] = [];
      let partial: Buffer | undefined;
      for (const [k, p] of u.entries()) {
        const agg = p[12]!;
        const z = (agg & 0x80) !== 0;
        const y = (agg & 0x40) !== 0;
        expect((agg >> 4) & 3).toBe(0); // W = 0: every element has a length
        expect(z).toBe(partial !== undefined); // continues exactly when the last one was cut
        if (k > 0) expect(agg & 0x08).toBe(0); // N only on a unit's first packet
        const elements: Buffer[] = [];
        for (let at = 13; at < p.length; ) {
          const { value, len } = leb128(p, at);
          elements.push(p.subarray(at + len, at + len + value));
          at += len + value;
          expect(at).toBeLessThanOrEqual(p.length);
        }
        for (const [e, el] of elements.entries()) {
          const joined = e === 0 && partial ? Buffer.concat([partial, el]) : el;
          if (e === elements.length - 1 && y) partial = joined;
          else {
            obus.push(joined);
            if (e === 0) partial = undefined;
          }
        }
        if (!y) partial = undefined;
      }
      expect(partial).toBeUndefined(); // the unit's last packet ends its last OBU
      const types = obus.map((o) => (o[0]! >> 3) & 0xf);
      for (const o of obus) expect(o[0]! & 0x02).toBe(0); // no obu_has_size_field
      expect(types).not.toContain(2); // no temporal delimiter
      expect(types.some((t) => t === 6 || t === 3)).toBe(true); // a frame (or frame header) in each unit
      if (types.includes(1)) {
        sequenceHeaders++;
        expect(u[0]![12]! & 0x08).toBe(0x08); // N: a new coded video sequence
      } else expect(u[0]![12]! & 0x08).toBe(0);
    }
    // the first key frame, and the one asked for (the next automatic one is 600 frames away: 20 s)
    expect(sequenceHeaders).toBeGreaterThanOrEqual(2);
    expect(err).toMatch(/ready 640x480 av1 libaom/);
  });
});
