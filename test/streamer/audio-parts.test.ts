/** The pure parts of the streamer's sound: the Opus format from an offer, the capture's argv, one RTP stream over restarts, when to retry. */
import { describe, expect, it } from 'vitest';
import { afterCaptureExit, answerFmtp, audioAvailability, captureArgv, captureProblem, CAPTURE_RETRY_WINDOW_MS, pickOpus, RtpContinuity, type AudioSetup } from '../../cluster-agent/streamer/audio.js';

const CHROME_OFFER = [
  'v=0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'm=audio 9 UDP/TLS/RTP/SAVPF 63 111 9 0 8 13 110 126',
  'a=mid:1',
  'a=recvonly',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=mid:2',
  '',
].join('\r\n');

const SETUP: AudioSetup = { ok: true, server: 'unix:/run/porthole/audio/pulse.sock', device: 'porthole.monitor', gstLaunch: '/usr/bin/gst-launch-1.0', bitrate: 96_000, frameMs: 10 };

function rtp(seq: number, ts: number, ssrc = 0x1234): Buffer {
  const p = Buffer.alloc(15);
  p[0] = 0x80;
  p[1] = 111;
  p.writeUInt16BE(seq, 2);
  p.writeUInt32BE(ts >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}

describe('the streamer\'s sound, pure parts', () => {
  it('takes Opus from the offer\'s audio section at the offer\'s payload type, skipping RED before it', () => {
    expect(pickOpus(CHROME_OFFER)).toEqual({ mid: '1', payloadType: 111, fmtp: 'minptime=10;useinbandfec=1' });
    // Another payload type number is answered as offered.
    expect(pickOpus(CHROME_OFFER.replaceAll('111', '109'))).toMatchObject({ payloadType: 109 });
  });

  it('has no Opus for an offer without audio, without Opus, or that does not want to receive', () => {
    expect(pickOpus(CHROME_OFFER.split('m=audio')[0]!)).toBeUndefined();
    expect(pickOpus(CHROME_OFFER.replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 ISAC/16000'))).toBeUndefined();
    expect(pickOpus(CHROME_OFFER.replace('a=mid:1\r\na=recvonly', 'a=mid:1\r\na=sendonly'))).toBeUndefined();
    expect(pickOpus(CHROME_OFFER.replace('a=mid:1\r\na=recvonly', 'a=mid:1\r\na=inactive'))).toBeUndefined();
    // sendrecv (a viewer that would also send a microphone) still receives
    expect(pickOpus(CHROME_OFFER.replace('a=mid:1\r\na=recvonly', 'a=mid:1\r\na=sendrecv'))).toMatchObject({ payloadType: 111 });
  });

  it('answers with the offer\'s fmtp, saying that it sends stereo', () => {
    expect(answerFmtp('minptime=10;useinbandfec=1')).toBe('minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1');
    expect(answerFmtp('stereo=0; minptime=10')).toBe('minptime=10;stereo=1;sprop-stereo=1');
    expect(answerFmtp('')).toBe('stereo=1;sprop-stereo=1');
  });

  it('says why a viewer has no sound: the desktop has none, or the viewer offered no Opus', () => {
    expect(audioAvailability(SETUP, pickOpus(CHROME_OFFER))).toEqual({ available: true });
    expect(audioAvailability({ ok: false, reason: 'PulseAudio is not installed' }, pickOpus(CHROME_OFFER))).toEqual({ available: false, message: 'PulseAudio is not installed' });
    expect(audioAvailability(SETUP, undefined)).toMatchObject({ available: false, message: expect.stringMatching(/Opus/) });
  });

  it('captures the sink\'s monitor into Opus RTP at the negotiated payload type, framed on stdout', () => {
    const argv = captureArgv({ server: SETUP.server, device: 'porthole.monitor', payloadType: 109, ssrc: 77, bitrate: 96_000, frameMs: 10 });
    const text = argv.join(' ');
    expect(argv[0]).toBe('-q'); // nothing but packets on stdout
    expect(text).toContain('pulsesrc server=unix:/run/porthole/audio/pulse.sock device=porthole.monitor');
    expect(text).toContain('opusenc audio-type=restricted-lowdelay frame-size=10 bitrate=96000');
    expect(text).toContain('rtpopuspay pt=109 ssrc=77 ! rtpstreampay ! fdsink fd=1 sync=false');
    // each element and property is an argument of its own: nothing for a shell to split
    expect(argv.filter((a) => a === '!')).toHaveLength(7);
    expect(argv.every((a) => !a.includes(' '))).toBe(true);
  });

  it('makes one RTP stream out of successive captures: sequence by one, timestamp by the time between, our SSRC', () => {
    const c = new RtpContinuity(0xabcdef01);
    const a1 = c.rewrite(rtp(5000, 1000), 0);
    const a2 = c.rewrite(rtp(5001, 1480), 10);
    expect([a1.readUInt16BE(2), a2.readUInt16BE(2)]).toEqual([5000, 5001]);
    expect([a1.readUInt32BE(4), a2.readUInt32BE(4)]).toEqual([1000, 1480]);
    expect(a1.readUInt32BE(8)).toBe(0xabcdef01);
    expect(a2[1]! & 0x80).toBe(0); // no marker within a capture
    // A new capture 2 s later, numbering from elsewhere: sequence goes on, timestamp moves by 2 s of 48 kHz.
    c.restart();
    const b1 = c.rewrite(rtp(60_000, 4_000_000_000), 2010);
    const b2 = c.rewrite(rtp(60_001, 4_000_000_480), 2020);
    expect([b1.readUInt16BE(2), b2.readUInt16BE(2)]).toEqual([5002, 5003]);
    expect(b1.readUInt32BE(4)).toBe(1480 + 2000 * 48);
    expect(b2.readUInt32BE(4) - b1.readUInt32BE(4)).toBe(480);
    expect(b1[1]! & 0x80).toBe(0x80); // a new talk spurt
    expect(b1[1]! & 0x7f).toBe(111);
  });

  it('wraps sequence numbers and timestamps, and leaves what is not RTP alone', () => {
    const c = new RtpContinuity(1);
    c.rewrite(rtp(0xffff, 0xffffff00), 0);
    const next = c.rewrite(rtp(0, 0xffffff00 + 480 - 2 ** 32), 10);
    expect(next.readUInt16BE(2)).toBe(0);
    expect(next.readUInt32BE(4)).toBe((0xffffff00 + 480) % 2 ** 32);
    const junk = Buffer.from([1, 2, 3]);
    expect(c.rewrite(junk, 20)).toBe(junk);
  });

  it('starts a capture that ended by itself again only while sound recently worked', () => {
    expect(afterCaptureExit(undefined, 1_000)).toBe('give-up'); // never sent a packet: it cannot work
    expect(afterCaptureExit(10_000, 12_000)).toBe('restart'); // the sound server went away
    expect(afterCaptureExit(10_000, 10_000 + CAPTURE_RETRY_WINDOW_MS)).toBe('give-up'); // and has not come back
  });

  it('turns gst-launch\'s error into a sentence', () => {
    expect(captureProblem(['ERROR: from element /GstPipeline:pipeline0/GstPulseSrc:pulsesrc0: Failed to connect: Connection refused'], 1, null)).toMatch(/^The desktop's sound server is not running \(Failed to connect: Connection refused\)/);
    expect(captureProblem(['ERROR: from element /GstPipeline:pipeline0/GstOpusEnc:opusenc0: Internal data stream error.'], 1, null)).toBe('The desktop\'s sound could not be captured: Internal data stream error.');
    expect(captureProblem([], null, 'SIGKILL')).toBe('The desktop\'s sound capture stopped (SIGKILL).');
  });
});
