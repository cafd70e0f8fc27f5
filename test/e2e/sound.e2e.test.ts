/**
 * The desktop's sound, as a person on the web shell hears it: the real agent, its sandboxed desktop with
 * its own PulseAudio, the streamer, and the launcher in Debian's Chromium. Off in a new view; the Sound
 * button turns it on (the click is the gesture that lets the page play), and the stats overlay then
 * shows Opus with a level above silence while a program in the desktop plays a tone; off again, the
 * level falls to silence. Over VNC the button says sound needs WebRTC.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-sound', 'sonia', 'sound e2e pw');
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const soundStat = async () => (await page.locator('[data-stat="sound"]').count()) ? ((await page.locator('[data-stat="sound"]').textContent()) ?? '') : '';
const level = async () => Number(/level ([\d.]+)/.exec(await soundStat())?.[1] ?? -1);

describe('Desktop sound', () => {
  it('is off in a new view, plays the desktop\'s tone as Opus once turned on, goes quiet when off, and says why over VNC', { timeout: 180_000 }, async () => {
    await stack.signIn();
    await page.getByTestId('template-terminal').click({ timeout: 15_000 });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 45_000 }).toMatch(/^connected/i);
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('WebRTC');
    const button = page.getByTestId('sound-toggle');
    await expect.poll(() => button.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await button.getAttribute('aria-pressed')).toBe('false');

    // A program in the desktop plays a tone (its PULSE_SERVER is the session's sound server).
    await page.locator('[data-testid="desktop-screen"] video').click();
    await page.keyboard.type('gst-launch-1.0 -q audiotestsrc is-live=true freq=440 volume=0.5 ! pulsesink &', { delay: 15 });
    await page.keyboard.press('Enter');
    await page.getByTestId('stats-toggle').click();
    await page.waitForTimeout(1500);
    expect(await soundStat()).toBe(''); // off: nothing arrives

    await button.click();
    await expect.poll(() => button.getAttribute('aria-pressed'), { timeout: 15_000 }).toBe('true');
    await expect.poll(soundStat, { timeout: 15_000 }).toMatch(/^opus, level/);
    await expect.poll(level, { timeout: 15_000 }).toBeGreaterThan(0.05);
    expect(await page.getByTestId('desktop-sound').evaluate((a: HTMLAudioElement) => a.paused)).toBe(false);

    await button.click();
    await expect.poll(() => button.getAttribute('aria-pressed'), { timeout: 15_000 }).toBe('false');
    await expect.poll(level, { timeout: 15_000 }).toBeLessThan(0.01);

    await page.getByTestId('protocol-setting').selectOption('vnc');
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('VNC');
    await expect.poll(() => button.isDisabled(), { timeout: 10_000 }).toBe(true);
    expect(await button.getAttribute('title')).toMatch(/Sound comes with WebRTC/);
    await page.getByTestId('protocol-setting').selectOption('auto');
  });
});
