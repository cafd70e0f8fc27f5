/** Which stream to open: WebRTC where the template offers it and the setting allows, else VNC. Pure. */

export type StreamProtocol = 'webrtc' | 'vnc';
export type ProtocolSetting = 'auto' | 'webrtc' | 'vnc';

export interface ProtocolChoice {
  protocol: StreamProtocol;
  /** a sentence when VNC is used although WebRTC was wanted */
  note?: string;
}

/**
 * `webrtcFailure`: why WebRTC did not work on an earlier attempt of this view (then VNC, saying so).
 * `allowed`: protocols a policy allows on this device (default both).
 */
export function chooseProtocol(offered: readonly string[], setting: ProtocolSetting, webrtcFailure?: string, allowed: readonly StreamProtocol[] = ['webrtc', 'vnc']): ProtocolChoice {
  const canWebrtc = offered.includes('webrtc') && allowed.includes('webrtc');
  const canVnc = offered.includes('vnc') && allowed.includes('vnc');
  if (setting === 'vnc' && canVnc) return { protocol: 'vnc' };
  if (canWebrtc && !webrtcFailure) return { protocol: 'webrtc' };
  if (canVnc) {
    if (webrtcFailure) return { protocol: 'vnc', note: `Streaming over VNC: ${webrtcFailure}` };
    if (setting === 'webrtc') return { protocol: 'vnc', note: 'Streaming over VNC: this desktop does not offer WebRTC.' };
    return { protocol: 'vnc' };
  }
  return { protocol: 'webrtc' };
}
