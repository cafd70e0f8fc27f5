/** The launcher's pure stream decisions: keysyms from key events, codec order, protocol choice, pointer mapping. */
import { describe, expect, it } from 'vitest';
import { orderCapabilities, rankCodecs } from '../../renderer/src/logic/codecs.js';
import { keysymOf } from '../../renderer/src/logic/keysym.js';
import { chooseProtocol } from '../../renderer/src/logic/protocol.js';
import { resizeRequest } from '../../renderer/src/logic/resize.js';
import { buttonMask, videoPoint } from '../../renderer/src/session/webrtcStream.js';

describe('stream logic', () => {
  it('sends the character the layout produced, named keys by name, and modifiers by side', () => {
    expect(keysymOf({ key: 'a' })).toBe(0x61);
    expect(keysymOf({ key: 'ä' })).toBe(0xe4); // Latin-1: the code point
    expect(keysymOf({ key: 'й' })).toBe(0x01000439); // elsewhere: the Unicode keysym
    expect(keysymOf({ key: 'Enter' })).toBe(0xff0d);
    expect(keysymOf({ key: 'F5' })).toBe(0xffc2);
    expect(keysymOf({ key: 'Control', location: 1 })).toBe(0xffe3);
    expect(keysymOf({ key: 'Control', location: 2 })).toBe(0xffe4);
    expect(keysymOf({ key: 'Meta', location: 1 })).toBe(0xffeb);
    expect(keysymOf({ key: 'AltGraph' })).toBeUndefined(); // the character it makes is what is sent
    expect(keysymOf({ key: 'Dead' })).toBeUndefined();
  });

  it('offers what this machine decodes in hardware first, then smooth, then the rest', () => {
    const support = [
      { mimeType: 'video/H264', supported: true, smooth: true, powerEfficient: false },
      { mimeType: 'video/VP9', supported: true, smooth: true, powerEfficient: true },
      { mimeType: 'video/AV1', supported: true, smooth: false, powerEfficient: false },
      { mimeType: 'video/VP8', supported: false, smooth: false, powerEfficient: false },
    ];
    expect(rankCodecs(support)).toEqual(['video/VP9', 'video/H264', 'video/AV1']);
    expect(rankCodecs(support, false)).toEqual(['video/H264', 'video/VP9', 'video/AV1']); // hardware decode off
    const caps = [{ mimeType: 'video/VP8' }, { mimeType: 'video/rtx' }, { mimeType: 'video/H264' }, { mimeType: 'video/VP9' }];
    expect(orderCapabilities(caps, ['video/VP9', 'video/H264']).map((c) => c.mimeType)).toEqual(['video/VP9', 'video/H264', 'video/VP8', 'video/rtx']);
  });

  it('chooses WebRTC where offered, VNC when asked or after WebRTC failed, saying why', () => {
    expect(chooseProtocol(['webrtc', 'vnc'], 'auto')).toEqual({ protocol: 'webrtc' });
    expect(chooseProtocol(['webrtc', 'vnc'], 'vnc')).toEqual({ protocol: 'vnc' });
    expect(chooseProtocol(['webrtc', 'vnc'], 'auto', 'WebRTC could not connect within 6 seconds.')).toEqual({ protocol: 'vnc', note: 'Streaming over VNC: WebRTC could not connect within 6 seconds.' });
    expect(chooseProtocol(['vnc'], 'webrtc')).toEqual({ protocol: 'vnc', note: 'Streaming over VNC: this desktop does not offer WebRTC.' });
    expect(chooseProtocol(['vnc'], 'auto')).toEqual({ protocol: 'vnc' });
    expect(chooseProtocol(['webrtc', 'vnc'], 'auto', undefined, ['vnc'])).toEqual({ protocol: 'vnc' }); // a policy allows VNC only
  });

  it('maps the pointer into the letterboxed video and browser buttons onto the streamer\'s mask', () => {
    // a 1280x800 desktop in a 1000x1000 box: 1000x625, centred with 187.5 px above and below
    expect(videoPoint(500, 500, { width: 1000, height: 1000 }, { width: 1280, height: 800 })).toEqual({ x: 0.5, y: 0.5 });
    expect(videoPoint(0, 187.5, { width: 1000, height: 1000 }, { width: 1280, height: 800 })).toEqual({ x: 0, y: 0 });
    expect(videoPoint(1000, 990, { width: 1000, height: 1000 }, { width: 1280, height: 800 })).toEqual({ x: 1, y: 1 }); // clamped
    expect(buttonMask(1)).toBe(1); // left
    expect(buttonMask(2)).toBe(4); // right -> 4
    expect(buttonMask(4)).toBe(2); // middle -> 2
    expect(buttonMask(1 | 2 | 4 | 8)).toBe(15);
  });

  it('fits the desktop to the area in even CSS pixels within the contract, ', () => {
    expect(resizeRequest(1185.6, 719)).toEqual({ w: 1184, h: 718 });
    expect(resizeRequest(100, 50)).toEqual({ w: 320, h: 200 });
    expect(resizeRequest(9000, 5000)).toEqual({ w: 7680, h: 4320 });
    expect(resizeRequest(0, 700)).toBeUndefined(); // hidden: ask nothing
  });
});
