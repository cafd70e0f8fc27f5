/**
 * Which codec to send, from the browser's offer: the first payload type of the video section (that
 * order is the client's setCodecPreferences order, e.g. what it decodes in hardware) that this streamer
 * can encode. The answer then carries only that codec at the offer's own payload type (and its RTX),
 * so the encoder's payloader writes exactly what was negotiated and packets pass through untouched.
 * Pure.
 */

export type CodecName = 'h264' | 'vp8' | 'vp9' | 'av1';
export const CODEC_NAMES: readonly CodecName[] = ['h264', 'vp8', 'vp9', 'av1'];

export interface PickedCodec {
  name: CodecName;
  /** the offer's payload type for it: answered and sent with the same one */
  payloadType: number;
  clockRate: number;
  /** the offer's fmtp for that payload type ('' if none) */
  fmtp: string;
  /** the offer's rtcp-fb values for it ("nack", "nack pli", "goog-remb", "transport-cc", "ccm fir") */
  rtcpFb: string[];
  /** the offer's rtx payload type whose apt is ours, if any */
  rtxPayloadType?: number;
  /** the video section's mid */
  mid: string;
}

interface OfferVideo {
  mid: string;
  pts: number[];
  rtpmap: Map<number, { name: string; clock: number }>;
  fmtp: Map<number, string>;
  fb: Map<number, string[]>;
}

/** The first video section of an SDP offer. */
export function parseOfferVideo(sdp: string): OfferVideo | undefined {
  let v: OfferVideo | undefined;
  let inVideo = false;
  for (const l of sdp.split(/\r?\n/)) {
    if (l.startsWith('m=')) {
      if (v && inVideo) break;
      inVideo = l.startsWith('m=video ');
      if (inVideo) v = { mid: '', pts: l.split(' ').slice(3).map(Number), rtpmap: new Map(), fmtp: new Map(), fb: new Map() };
      continue;
    }
    if (!inVideo || !v) continue;
    let m: RegExpExecArray | null;
    if ((m = /^a=mid:(\S+)/.exec(l))) v.mid = m[1]!;
    else if ((m = /^a=rtpmap:(\d+) ([^/]+)\/(\d+)/.exec(l))) v.rtpmap.set(Number(m[1]), { name: m[2]!, clock: Number(m[3]) });
    else if ((m = /^a=fmtp:(\d+) (.*)$/.exec(l))) v.fmtp.set(Number(m[1]), m[2]!);
    else if ((m = /^a=rtcp-fb:(\d+) (.*)$/.exec(l))) v.fb.set(Number(m[1]), [...(v.fb.get(Number(m[1])) ?? []), m[2]!.trim()]);
  }
  return v;
}

function fmtpParams(fmtp: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of fmtp.split(';')) {
    const [k, x] = kv.trim().split('=');
    if (k) out[k.toLowerCase()] = x ?? '';
  }
  return out;
}

/** Can we produce this offered format? (H.264: constrained baseline, FU-A; VP9: profile 0; AV1: profile 0.) */
export function encodable(name: string, fmtp: string, have: ReadonlySet<CodecName>): CodecName | undefined {
  const p = fmtpParams(fmtp);
  switch (name.toLowerCase()) {
    case 'h264': {
      if ((p['packetization-mode'] ?? '0') !== '1') return undefined; // rtph264pay sends FU-A
      const id = (p['profile-level-id'] ?? '42e01f').toLowerCase();
      const profile = parseInt(id.slice(0, 2), 16);
      const iop = parseInt(id.slice(2, 4), 16);
      const constrainedBaseline = (profile === 0x42 && (iop & 0x40) !== 0) || (profile === 0x4d && (iop & 0x80) !== 0);
      return constrainedBaseline && have.has('h264') ? 'h264' : undefined;
    }
    case 'vp8':
      return have.has('vp8') ? 'vp8' : undefined;
    case 'vp9':
      return (p['profile-id'] ?? '0') === '0' && have.has('vp9') ? 'vp9' : undefined;
    case 'av1':
      return (p['profile'] ?? '0') === '0' && have.has('av1') ? 'av1' : undefined;
    default:
      return undefined; // rtx, red, ulpfec, flexfec, H265
  }
}

export function pickCodec(offerSdp: string, have: ReadonlySet<CodecName>): PickedCodec | undefined {
  const v = parseOfferVideo(offerSdp);
  if (!v) return undefined;
  for (const pt of v.pts) {
    const rm = v.rtpmap.get(pt);
    const name = rm && encodable(rm.name, v.fmtp.get(pt) ?? '', have);
    if (!rm || !name) continue;
    let rtx: number | undefined;
    for (const [rpt, r] of v.rtpmap) if (r.name.toLowerCase() === 'rtx' && fmtpParams(v.fmtp.get(rpt) ?? '')['apt'] === String(pt)) rtx = rpt;
    return { name, payloadType: pt, clockRate: rm.clock, fmtp: v.fmtp.get(pt) ?? '', rtcpFb: v.fb.get(pt) ?? [], mid: v.mid, ...(rtx !== undefined ? { rtxPayloadType: rtx } : {}) };
  }
  return undefined;
}
