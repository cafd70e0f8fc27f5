/**
 * Fit the desktop to its window: the size to ask the remote screen for, from the screen area's CSS
 * pixels. Pure. CSS pixels, not device pixels, so text stays the size the person's display makes it;
 * even numbers (4:2:0 video needs them); within what the signalling contract accepts.
 */
export const RESIZE_LIMITS = { minW: 320, maxW: 7680, minH: 200, maxH: 4320 } as const;
/** a window being dragged asks once it rests this long */
export const RESIZE_SETTLE_MS = 300;

export function resizeRequest(width: number, height: number): { w: number; h: number } | undefined {
  if (!(width > 0 && height > 0)) return undefined; // hidden or not laid out yet
  const even = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, 2 * Math.floor(v / 2)));
  return { w: even(width, RESIZE_LIMITS.minW, RESIZE_LIMITS.maxW), h: even(height, RESIZE_LIMITS.minH, RESIZE_LIMITS.maxH) };
}
