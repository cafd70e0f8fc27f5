/**
 * The order of video codecs to offer: what this machine decodes power-efficiently (in hardware) first,
 * then what it decodes smoothly, then the rest, each group in the order below (H.264 is what thin
 * clients decode in hardware most widely). The streamer sends the first one it can encode. Pure.
 */

export const CODEC_PREFERENCE = ['video/H264', 'video/VP9', 'video/AV1', 'video/VP8'];

export interface DecodeSupport {
  mimeType: string;
  supported: boolean;
  smooth: boolean;
  powerEfficient: boolean;
}

/** Pure: codec mime types, best first. `hardwareDecode: false` ignores power efficiency (the person turned it off). */
export function rankCodecs(support: DecodeSupport[], hardwareDecode = true): string[] {
  const usable = support.filter((s) => s.supported);
  const base = (m: string) => {
    const i = CODEC_PREFERENCE.indexOf(m);
    return i < 0 ? CODEC_PREFERENCE.length : i;
  };
  const score = (s: DecodeSupport) => (hardwareDecode && s.powerEfficient ? 0 : s.smooth ? 1 : 2) * 100 + base(s.mimeType);
  return [...usable].sort((a, b) => score(a) - score(b)).map((s) => s.mimeType);
}

/** Pure: the receiver's codec capabilities reordered to that ranking (unranked ones, like rtx, after). */
export function orderCapabilities<T extends { mimeType: string }>(caps: T[], ranking: string[]): T[] {
  const rank = (c: T) => {
    const i = ranking.indexOf(c.mimeType);
    return i < 0 ? ranking.length : i;
  };
  return [...caps].sort((a, b) => rank(a) - rank(b));
}

const CODEC_NAMES: Record<string, string> = { 'video/H264': 'H.264', 'video/VP9': 'VP9', 'video/AV1': 'AV1', 'video/VP8': 'VP8' };

export type DecodePath = 'hardware' | 'software' | 'software, may drop frames' | 'not decoded';

/** Pure: how this device decodes each codec, for the diagnostics panel, in offer order. */
export function decodeRows(support: DecodeSupport[]): Array<{ codec: string; path: DecodePath }> {
  return CODEC_PREFERENCE.map((mimeType) => {
    const s = support.find((x) => x.mimeType === mimeType);
    const path: DecodePath = !s?.supported ? 'not decoded' : s.powerEfficient ? 'hardware' : s.smooth ? 'software' : 'software, may drop frames';
    return { codec: CODEC_NAMES[mimeType] ?? mimeType, path };
  });
}
