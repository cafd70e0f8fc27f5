/**
 * What this browser decodes, and how well (navigator.mediaCapabilities, type 'webrtc'), and the
 * person's stream setting. The I/O beside the pure ranking in logic/codecs.ts.
 */
import { CODEC_PREFERENCE, type DecodeSupport } from '../logic/codecs.js';
import type { ProtocolSetting } from '../logic/protocol.js';

export async function decodeSupport(): Promise<DecodeSupport[]> {
  const caps = navigator.mediaCapabilities;
  return Promise.all(
    CODEC_PREFERENCE.map(async (mimeType) => {
      try {
        const info = await caps.decodingInfo({ type: 'webrtc', video: { contentType: mimeType, width: 1920, height: 1080, bitrate: 8_000_000, framerate: 60 } });
        return { mimeType, supported: info.supported, smooth: info.smooth, powerEfficient: info.powerEfficient };
      } catch {
        // Older browsers: assume it decodes, in software.
        return { mimeType, supported: RTCRtpReceiver.getCapabilities('video')?.codecs.some((c) => c.mimeType === mimeType) ?? false, smooth: true, powerEfficient: false };
      }
    }),
  );
}

const KEY = 'porthole.stream-protocol';

export function loadProtocolSetting(): ProtocolSetting {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'webrtc' || v === 'vnc' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

export function saveProtocolSetting(setting: ProtocolSetting): void {
  try {
    localStorage.setItem(KEY, setting);
  } catch {
    // storage off: the choice lasts for this view
  }
}

/**
 * Relay only (TURN), for networks where nothing else gets through and to check a TURN setup; a device
 * setting in this browser's storage (`porthole.webrtc-relay-only` = `1`).
 */
export function loadRelayOnly(): boolean {
  try {
    return localStorage.getItem('porthole.webrtc-relay-only') === '1';
  } catch {
    return false;
  }
}

/** Fit the desktop to the window (the remote screen takes the view's size), a device setting; off by default. */
export function loadFitToWindow(): boolean {
  try {
    return localStorage.getItem('porthole.fit-to-window') === '1';
  } catch {
    return false;
  }
}

export function saveFitToWindow(on: boolean): void {
  try {
    localStorage.setItem('porthole.fit-to-window', on ? '1' : '0');
  } catch {
    // storage off: the choice lasts for this view
  }
}
