import type { Page } from 'playwright-core';

/**
 * Distinct colours in a sample of what the desktop view shows, whichever stream draws it: the noVNC
 * canvas, or the WebRTC video's current frame. A black or blank screen has one or two.
 */
export async function screenColours(p: Page): Promise<number> {
  return p.locator('[data-testid="desktop-screen"]').evaluate((screen: HTMLElement) => {
    const source = screen.querySelector('video') ?? screen.querySelector('canvas');
    if (!source) return 0;
    let canvas: HTMLCanvasElement;
    if (source instanceof HTMLVideoElement) {
      if (!source.videoWidth) return 0;
      canvas = document.createElement('canvas');
      canvas.width = source.videoWidth;
      canvas.height = source.videoHeight;
      canvas.getContext('2d')!.drawImage(source, 0, 0);
    } else canvas = source as HTMLCanvasElement;
    const ctx = canvas.getContext('2d');
    if (!ctx || canvas.width === 0) return 0;
    const { data: px } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set<number>();
    for (let i = 0; i < px.length; i += 4 * 97) colours.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!);
    return colours.size;
  });
}
