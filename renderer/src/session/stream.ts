/**
 * A desktop stream, whatever carries it: one module per protocol (vncStream.ts, webrtcStream.ts)
 * behind this one interface, so the session view does not know which protocol it shows.
 */
import type { OpenStream } from './streamController.js';

export type { StreamProtocol } from '../logic/protocol.js';

export interface StreamStats {
  protocol: 'webrtc' | 'vnc';
  codec?: string;
  /** the decoder Chromium used (e.g. ExternalDecoder / libvpx / FFmpeg), where it says */
  decoder?: string;
  /** true when the decoder is power-efficient (hardware) */
  hardwareDecoder?: boolean;
  width?: number;
  height?: number;
  fps?: number;
  kbps?: number;
  rttMs?: number;
  packetsLost?: number;
  jitterMs?: number;
  /** time from arrival to display in the receiver: jitter buffer + decode (ms) */
  receiverDelayMs?: number;
  path?: string;
  /** the desktop's sound, while it plays: codec and the level last heard (0..1) */
  audioCodec?: string;
  audioLevel?: number;
}

/** The desktop's sound as the stream has it: whether it can be heard at all (and why not), and whether it is on. */
export interface SoundState {
  available: boolean;
  on: boolean;
  message?: string;
}

export interface DesktopStream extends OpenStream {
  readonly protocol: 'webrtc' | 'vnc';
  focus(): void;
  /** press these keysyms in order and release them in reverse (Ctrl+Alt+Del) */
  sendKeys(keysyms: number[]): void;
  /** local clipboard text -> the desktop's clipboard */
  sendClipboard(text: string): void;
  /** on: the desktop takes the size of its area now and whenever the area changes; off: it keeps its size and is scaled */
  fitToWindow(on: boolean): void;
  /** turn the desktop's sound on or off (call it from a click: browsers play sound only after a gesture) */
  setSound(on: boolean): void;
  stats(): Promise<StreamStats>;
}

export interface StreamHooks {
  /** the desktop's clipboard changed */
  onClipboard(text: string): void;
  /** the desktop's sound became available, or not, or went on or off */
  onSound?(state: SoundState): void;
}

export const CTRL_ALT_DEL = [0xffe3, 0xffe9, 0xffff];
