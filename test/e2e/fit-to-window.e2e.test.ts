/**
 * Fit to window, as a person on the web shell uses it: the real agent and its sandboxed Xvnc desktop,
 * the launcher in Debian's Chromium. With the toggle on, the remote screen takes the size of the view's
 * screen area (CSS pixels, even) over WebRTC (the streamer runs xrandr) and over VNC (noVNC asks Xvnc
 * with SetDesktopSize), follows the window when it changes, and keeps its size once the toggle is off.
 * The setting outlives the view (a device setting).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-fit', 'fitz', 'fit to window pw');
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** The remote screen's size as the page shows it (the video's frames, or noVNC's canvas). */
const remoteSize = () =>
  page.evaluate(() => {
    const screen = document.querySelector('[data-testid="desktop-screen"]')!;
    const video = screen.querySelector('video');
    if (video && video.videoWidth) return `${video.videoWidth}x${video.videoHeight}`;
    const canvas = screen.querySelector('canvas');
    return canvas ? `${canvas.width}x${canvas.height}` : 'none';
  });
/**
 * What fitting asks for. WebRTC: the screen area's CSS size, rounded down to even numbers (4:2:0 video
 * needs them). VNC: what noVNC asks, its own screen element's box rounded down.
 */
const areaSize = (protocol: 'webrtc' | 'vnc' = 'webrtc') =>
  page.evaluate((protocol) => {
    const screen = document.querySelector<HTMLElement>('[data-testid="desktop-screen"]')!;
    if (protocol === 'vnc') {
      const r = screen.querySelector('canvas')!.parentElement!.getBoundingClientRect();
      return `${Math.floor(r.width)}x${Math.floor(r.height)}`;
    }
    return `${2 * Math.floor(screen.clientWidth / 2)}x${2 * Math.floor(screen.clientHeight / 2)}`;
  }, protocol);

describe('Fit to window', () => {
  it('resizes the desktop to the view over WebRTC and over VNC, follows the window, and stops when turned off', { timeout: 180_000 }, async () => {
    await page.setViewportSize({ width: 1200, height: 800 });
    await stack.signIn();
    await page.getByTestId('template-terminal').click({ timeout: 15_000 });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 45_000 }).toMatch(/^connected/i);
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('WebRTC');
    await expect.poll(remoteSize, { timeout: 10_000 }).toBe('1280x800'); // the template's size: not fitted yet
    expect(await page.getByTestId('fit-toggle').getAttribute('aria-pressed')).toBe('false');

    await page.getByTestId('fit-toggle').click();
    const first = await areaSize();
    expect(first).not.toBe('1280x800');
    await expect.poll(remoteSize, { timeout: 15_000 }).toBe(first);

    // The window changes: the desktop follows once it rests.
    await page.setViewportSize({ width: 1000, height: 700 });
    const second = await areaSize();
    expect(second).not.toBe(first);
    await expect.poll(remoteSize, { timeout: 15_000 }).toBe(second);

    // Over VNC noVNC asks Xvnc itself.
    await page.getByTestId('protocol-setting').selectOption('vnc');
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('VNC');
    await page.setViewportSize({ width: 1100, height: 760 });
    const third = await areaSize('vnc');
    await expect.poll(remoteSize, { timeout: 15_000 }).toBe(third);

    // Off: the desktop keeps its size whatever the window does (and is scaled into it).
    await page.getByTestId('fit-toggle').click();
    expect(await page.getByTestId('fit-toggle').getAttribute('aria-pressed')).toBe('false');
    await page.setViewportSize({ width: 900, height: 650 });
    await page.waitForTimeout(1500);
    expect(await remoteSize()).toBe(third);

    // A device setting: back on, it is still on in the next view.
    await page.getByTestId('fit-toggle').click();
    await page.getByTestId('back-to-launcher').click();
    await page.reload();
    await page.locator('[data-testid^="open-"]').first().click({ timeout: 20_000 });
    expect(await page.getByTestId('fit-toggle').getAttribute('aria-pressed')).toBe('true');
    await page.getByTestId('protocol-setting').selectOption('auto');
  });
});
