/**
 * The "This device" panel as a person on the web shell sees it: the real agent, core and renderer in
 * Debian's Chromium (started with --disable-gpu, so it decodes in software and says so). The
 * Electron side of the same panel (Chromium's GPU status, the hardware-decode switch) is driven by
 * test/electron where Electron's binary exists, and by test/launcher/device.test.ts with the GPU
 * process stood in.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-device', 'dora', 'device panel pw');
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('This device panel (web shell)', () => {
  it('lists how this page decodes each codec and the offer order, says the browser decides, and offers no switch', async () => {
    await stack.signIn();
    await page.getByTestId('device-panel').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="device-panel"] summary').click();
    await expect.poll(() => page.getByTestId('device-verdict').textContent(), { timeout: 10_000 }).toMatch(/the browser decides/);
    await page.getByTestId('device-codecs').waitFor();
    const rows = await page.locator('[data-testid="device-codecs"] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    // Debian's Chromium receives all four; with --disable-gpu none of them in hardware
    expect(rows.map((r) => r[0])).toEqual(['H.264', 'VP9', 'AV1', 'VP8']);
    for (const [, path] of rows) expect(path).toMatch(/^software/);
    const offer = await page.getByTestId('device-offer').textContent();
    expect(offer).toMatch(/^Offered to desktops in this order: H264, VP9, AV1, VP8\.$/);
    expect(await page.getByTestId('hardware-decode').count()).toBe(0);
  });
});
