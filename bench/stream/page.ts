/**
 * The launcher's own WebRTC receiver (renderer/src/session/webrtcStream.ts) on a bare page, for the
 * yardstick harness, which measures any page that shows the stream in a <video>. The codec to put first
 * is set by the page (PORTHOLE_CODEC); signalling goes to /ws on the same origin.
 */
import { openWebRtc } from '../../renderer/src/session/webrtcStream.js';

const codec = (window as unknown as { PORTHOLE_CODEC?: string }).PORTHOLE_CODEC ?? 'H264';
const screen = document.createElement('div');
screen.style.cssText = 'position:fixed;inset:0;background:#000';
document.body.append(screen);
openWebRtc(
  screen,
  { url: `ws://${location.host}/ws`, iceServers: [] },
  { onConnect: () => (document.title = 'connected'), onDisconnect: (problem) => (document.title = `disconnected: ${problem ?? ''}`) },
  { onClipboard: () => undefined },
  { codecs: [`video/${codec}`, 'video/H264', 'video/VP9', 'video/VP8'], connectTimeoutMs: 20_000, stallMs: 60_000, onFailed: (reason) => console.error(reason) },
);
