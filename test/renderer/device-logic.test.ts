import { describe, expect, it } from 'vitest';
import { decodeRows, rankCodecs, type DecodeSupport } from '../../renderer/src/logic/codecs.js';

const s = (mimeType: string, supported: boolean, smooth: boolean, powerEfficient: boolean): DecodeSupport => ({ mimeType, supported, smooth, powerEfficient });

describe('the device panel rows', () => {
  it('name each codec in offer order with how it is decoded', () => {
    const support = [s('video/VP8', true, true, false), s('video/H264', true, true, true), s('video/AV1', false, false, false), s('video/VP9', true, false, false)];
    expect(decodeRows(support)).toEqual([
      { codec: 'H.264', path: 'hardware' },
      { codec: 'VP9', path: 'software, may drop frames' },
      { codec: 'AV1', path: 'not decoded' },
      { codec: 'VP8', path: 'software' },
    ]);
    // a codec the browser did not answer for is not decoded
    expect(decodeRows([]).every((r) => r.path === 'not decoded')).toBe(true);
  });

  it('with hardware decoding turned off, the offer no longer puts the power-efficient codec first', () => {
    const support = [s('video/H264', true, true, false), s('video/VP9', true, true, true), s('video/VP8', true, true, false)];
    expect(rankCodecs(support)[0]).toBe('video/VP9');
    expect(rankCodecs(support, false)[0]).toBe('video/H264');
  });
});
