/** The streamer's pure parts: codec choice from an offer, RTCP feedback, the RTP header extension, the bitrate rules, key lookup. */
import { describe, expect, it } from 'vitest';
import { LossMeter } from '../../cluster-agent/streamer/loss-meter.js';
import { resizeCommands } from '../../cluster-agent/streamer/x11-desktop.js';
import { Retransmitter } from '../../cluster-agent/streamer/retransmit.js';
import { decide, fpsFor, initialState, withEstimate, withLoss, type BitrateLimits } from '../../cluster-agent/streamer/bitrate.js';
import { pickCodec } from '../../cluster-agent/streamer/codec.js';
import { parseStatsLine, splitFramed } from '../../cluster-agent/streamer/encoder.js';
import { playoutDelayId, toNdcIceServers } from '../../cluster-agent/streamer/peer.js';
import { parseRtcp } from '../../cluster-agent/streamer/rtcp.js';
import { playoutDelayExtension, withHeaderExtension } from '../../cluster-agent/streamer/rtp.js';
import { authorised } from '../../cluster-agent/streamer/signalling-server.js';
import { buttonChanges, cursorPng, findKeysym, spareKeycodes } from '../../cluster-agent/streamer/x11-desktop.js';

const OFFER = [
  'v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 45 98 96 108 109 102',
  'a=mid:1',
  'a=extmap:12 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'a=rtpmap:45 AV1/90000', 'a=rtpmap:98 VP9/90000', 'a=fmtp:98 profile-id=0',
  'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack', 'a=rtcp-fb:96 nack pli',
  'a=rtpmap:108 H264/90000', 'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:109 rtx/90000', 'a=fmtp:109 apt=108',
  'a=rtpmap:102 H264/90000', 'a=fmtp:102 packetization-mode=0;profile-level-id=42e01f',
].join('\r\n');

describe('streamer parts', () => {
  it('sends the first codec of the offer it can encode, at the offer\'s payload type, with its rtx', () => {
    expect(pickCodec(OFFER, new Set(['h264', 'vp8', 'vp9']))).toMatchObject({ name: 'vp9', payloadType: 98, mid: '1' }); // AV1 first, but not encodable
    expect(pickCodec(OFFER, new Set(['h264', 'vp8']))).toMatchObject({ name: 'vp8', payloadType: 96, rtcpFb: ['nack', 'nack pli'] });
    expect(pickCodec(OFFER, new Set(['h264']))).toMatchObject({ name: 'h264', payloadType: 108, rtxPayloadType: 109 }); // 102 is packetization-mode 0
    expect(pickCodec(OFFER.replace('42e01f', '640032'), new Set(['h264']))).toBeUndefined(); // High profile only
    expect(pickCodec('v=0\r\nm=audio 9 UDP 111', new Set(['h264']))).toBeUndefined();
    expect(playoutDelayId(OFFER)).toBe(12);
  });

  it('reads PLI, FIR, REMB, NACK and receiver reports from compound RTCP', () => {
    const rr = Buffer.alloc(32);
    rr.set([0x81, 201], 0);
    rr.writeUInt16BE(7, 2);
    rr[12] = 64; // fraction lost 64/256
    const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    const remb = Buffer.alloc(24);
    remb.set([0x8f, 206], 0);
    remb.writeUInt16BE(5, 2);
    remb.write('REMB', 12, 'latin1');
    remb[16] = 1;
    remb[17] = (3 << 2) | 0; // exponent 3
    remb.writeUInt16BE(1000, 18); // mantissa 1000 -> 8000 bit/s
    const nack = Buffer.from([0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 10, 0, 0b101]); // PID 10, BLP bits 0 and 2
    const out = parseRtcp(Buffer.concat([rr, pli, remb, nack]));
    expect(out).toEqual([{ kind: 'report', fractionLost: 0.25, jitter: 0 }, { kind: 'pli' }, { kind: 'remb', bitrate: 8000 }, { kind: 'nack', lost: [10, 11, 13] }]);
    expect(parseRtcp(Buffer.from([1, 2, 3]))).toEqual([]);
  });

  it('adds the playout-delay extension to packets with and without header extensions', () => {
    const ext = playoutDelayExtension(12, 0, 0);
    expect([...ext]).toEqual([(12 << 4) | 2, 0, 0, 0]);
    const packet = Buffer.concat([Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), Buffer.from('payload')]);
    const out = withHeaderExtension(packet, ext);
    expect(out[0]! & 0x10).toBe(0x10);
    expect(out.readUInt16BE(12)).toBe(0xbede);
    expect(out.readUInt16BE(14)).toBe(1);
    expect(out.subarray(20).toString()).toBe('payload');
    const twice = withHeaderExtension(out, oneElement(3));
    expect(twice.readUInt16BE(14)).toBe(2); // appended: 4 + 2 bytes -> two words
    expect(twice.subarray(12 + 4 + 8).toString()).toBe('payload');
  });

  it('starts above the floor, follows a falling estimate and loss down at once, climbs back, and never lets a still desktop lower it', () => {
    const limits: BitrateLimits = { startKbps: 3000, floorKbps: 250, maxKbps: 8000, maxFps: 60 };
    let s = initialState(limits, 0);
    expect(s).toMatchObject({ targetKbps: 3000, fps: 60 });
    s = decide(s, limits, 2900, 1000);
    expect(s.targetKbps).toBe(3750); // no loss: offer more
    s = withEstimate(s, 5000, 1100);
    s = withEstimate(s, 1500, 1200); // fell fast: the receiver saw a queue
    s = decide(s, limits, 3500, 1250);
    expect(s.targetKbps).toBe(1350);
    s = withLoss(s, 0.5, 1400);
    s = decide(s, limits, 1300, 1450);
    expect(s.targetKbps).toBe(585); // to 90 % of what got through
    expect(s.fps).toBe(30);
    s = decide(withLoss(s, 0.5, 1500), limits, 550, 1600);
    expect(s.targetKbps).toBe(585); // one cut, then a moment for the encoder to follow it
    s = decide(withLoss(s, 0.3, 1700), limits, 580, 1700);
    expect(s.targetKbps).toBe(365); // the loss of what was sent since still says too much
    // a huge loss is not taken at face value: at most 80 % down in one cut
    const burst = decide(withLoss(initialState(limits, 0), 0.99, 100), limits, 3000, 100);
    expect(burst.targetKbps).toBe(600);
    // a still desktop: it sends almost nothing, and the estimate follows; the target stays
    let still = initialState(limits, 0);
    still = withEstimate(withEstimate(still, 3000, 100), 200, 200);
    expect(decide(still, limits, 20, 300).targetKbps).toBe(3000);
    expect(fpsFor(300, 60)).toBe(24);
    expect(fpsFor(3000, 30)).toBe(30);
  });

  it('climbs faster while the link carries each step, and starts over at 25 % after a cut or a step it did not carry', () => {
    const limits: BitrateLimits = { startKbps: 1000, floorKbps: 250, maxKbps: 8000, maxFps: 60 };
    let s = initialState(limits, 0);
    const targets: number[] = [];
    for (let t = 1; t <= 6; t++) {
      s = decide(s, limits, s.targetKbps * 0.75, t * 1000); // the encoder sends 75 % of its target: carried
      targets.push(s.targetKbps);
    }
    expect(targets).toEqual([1250, 1563, 2345, 3518, 7036, 8000]); // x1.25 twice, x1.5 twice, then x2, capped
    s = decide(withLoss(s, 0.3, 6500), limits, 6000, 6600); // the link is smaller after all
    const cut = s.targetKbps;
    s = decide(s, limits, cut * 0.75, 7600);
    expect(s.targetKbps).toBe(Math.round(cut * 1.25));
    s = decide(s, limits, s.targetKbps * 0.55, 8600); // sent well under what was offered: not a step the link carried
    expect(s.carriedSteps).toBe(0);
  });

  it('counts loss from NACKs once per packet, only over what was sent in the span asked about', () => {
    const m = new LossMeter();
    expect(m.fraction(1000, 0)).toBeUndefined(); // nothing sent yet
    for (let i = 0; i < 100; i++) m.sent((65500 + i) & 0xffff, i * 10); // seq wraps at 65536
    m.nack([65500, 65501, 65502, 65503]); // the first 40 ms: before the span asked about below
    m.nack([65530, 65531, 65530, 65530]); // asked three times: one packet
    m.nack([1000]); // never sent: ignored
    // span [300, 850]: packets 30..85, 56 of them; 65530 and 65531 lost
    expect(m.fraction(1000, 300, 1000)).toBeCloseTo(2 / 56, 5);
    expect(m.fraction(1000, 0, 1000)).toBeCloseTo(6 / 86, 5);
    expect(m.fraction(1000, 900, 1000)).toBeUndefined(); // the newest are not yet due a NACK
    m.prune(500);
    expect(m.fraction(1000, 0, 1000)).toBeCloseTo(0, 5);
  });

  it('resends a NACKed packet once per 100 ms, within its budget, and nothing from before a key frame was asked for', () => {
    const rtp = (seq: number, size = 1000) => {
      const p = Buffer.alloc(size);
      p.writeUInt16BE(seq, 2);
      return p;
    };
    const r = new Retransmitter(() => 160); // 20 kB/s, 10 kB at once
    for (let seq = 65530; seq < 65556; seq++) r.sent(rtp(seq & 0xffff)); // 65530..65535, 0..19
    expect(r.nack([65531, 1, 7777], 1000).map((p) => p.readUInt16BE(2))).toEqual([65531, 1]); // 7777 was never sent
    expect(r.nack([65531], 1050)).toEqual([]); // on its way already
    expect(r.nack([65531], 1150)).toHaveLength(1);
    expect(r.nack([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 1150)).toHaveLength(9); // the budget: 10 kB at once, 1 kB spent
    expect(r.nack([11, 12], 1200)).toHaveLength(1); // asked again later: 50 ms refilled 1 kB
    r.keyframeComing();
    r.sent(rtp(20));
    expect(r.nack([8, 20], 2000).map((p) => p.readUInt16BE(2))).toEqual([20]);
  });

  it('gives Xvnc\'s output a mode of the asked size: the one it has, or a new one added first', () => {
    const query = ['Screen 0: minimum 32 x 32, current 1280 x 800, maximum 32768 x 32768', 'VNC-0 connected 1280x800+0+0 0mm x 0mm', '   1280x800      60.00*+', '   1920x1080     60.00  '].join('\n');
    expect(resizeCommands(query, 1920, 1080)).toEqual([['--output', 'VNC-0', '--mode', '1920x1080']]);
    expect(resizeCommands(query, 1000, 700)).toEqual([
      ['--newmode', '1000x700', '42.00', '1000', '1000', '1000', '1000', '700', '700', '700', '700'],
      ['--addmode', 'VNC-0', '1000x700'],
      ['--output', 'VNC-0', '--mode', '1000x700'],
    ]);
    expect(() => resizeCommands('Screen 0: minimum 32 x 32', 1000, 700)).toThrow(/no connected output/);
  });

  it('splits the helper\'s RFC 4571 stream into packets, keeping a packet cut in two for the next chunk', () => {
    const framed = Buffer.from([0, 3, 1, 2, 3, 0, 2, 9, 9, 0, 4, 7]);
    const { packets, rest } = splitFramed(framed);
    expect(packets.map((p) => [...p])).toEqual([[1, 2, 3], [9, 9]]);
    expect([...rest]).toEqual([0, 4, 7]);
  });

  it('reads the helper\'s stats, checks the agent\'s secret, and maps ICE servers for libdatachannel', () => {
    expect(parseStatsLine('stats frames=10 fps=9.5 kbps=120 keyframes=1 idle=1 capture_ms=0.6 encode_ms=5.1')).toEqual({ fps: 9.5, kbps: 120, frames: 10, keyframes: 1, idle: true, captureMs: 0.6 });
    expect(authorised('Bearer s3cret-s3cret', 's3cret-s3cret')).toBe(true);
    expect(authorised('Bearer s3cret-s3creT', 's3cret-s3cret')).toBe(false);
    expect(authorised(undefined, 's3cret')).toBe(false);
    expect(toNdcIceServers([{ urls: ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478?transport=udp', 'turns:t.example:5349', 'turn:t.example:3478?transport=tcp'], username: 'u', credential: 'p' }])).toEqual([
      'stun:127.0.0.1:3478',
      { hostname: '127.0.0.1', port: 3478, username: 'u', password: 'p', relayType: 'TurnUdp' },
    ]);
  });

  it('finds keysyms on the keyboard map, borrows empty keycodes, and turns button masks into presses', () => {
    const map = new Map([[38, [0x61, 0x41]], [50, [0xffe1, 0]], [60, [0, 0]], [61, []]]);
    expect(findKeysym(map, 0x61)).toEqual({ keycode: 38, shift: false });
    expect(findKeysym(map, 0x41)).toEqual({ keycode: 38, shift: true });
    expect(findKeysym(map, 0xe9)).toBeUndefined();
    expect(spareKeycodes(map, 38, 61)).toEqual([61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39]);
    expect(buttonChanges(0, 1)).toEqual([{ button: 1, down: true }]);
    expect(buttonChanges(1, 4)).toEqual([{ button: 1, down: false }, { button: 3, down: true }]);
    const png = cursorPng(1, 1, Buffer.from([0x80, 0x40, 0x20, 0x80])); // premultiplied ARGB, alpha 0x80
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});

function oneElement(id: number): Buffer {
  return Buffer.from([(id << 4) | 1, 7, 7]);
}
