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
  stats(): Promise<StreamStats>;
}

export interface StreamHooks {
  /** the desktop's clipboard changed */
  onClipboard(text: string): void;
}

export const CTRL_ALT_DEL = [0xffe3, 0xffe9, 0xffff];
