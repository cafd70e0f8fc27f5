/**
 * The "This device" panel as a person on the web shell sees it: the real agent, core and renderer in
 * Debian's Chromium (started with --disable-gpu, so it decodes in software and says so). The
 * Electron side of the same panel (Chromium's GPU status, the hardware-decode switch) is driven by
 * test/electron where Electron's binary exists, and by test/launcher/device.test.ts with the GPU
 * process stood in.
 */
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';

const AGENT = 'cluster-agent/agent/cli.ts';
const PASSWORD = 'device panel pw';
const data = tempDir('e2e-device');
const usersFile = join(data.path, 'agent', 'users.yaml');
let agent: Started;
let shell: Started;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  expect((await runCli(AGENT, ['users', 'add', 'dora', '--file', usersFile, '--password-stdin'], PASSWORD)).code).toBe(0);
  agent = await startCli(AGENT, ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
  shell = await startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--agent', agent.match[1]!], /^webshell on (\S+)/);
  browser = await launchChromium(join(data.path, 'chromium'));
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  if (shell) await stopProcess(shell.child);
  if (agent) await stopProcess(agent.child);
  data.remove();
});

describe('This device panel (web shell)', () => {
  it('lists how this page decodes each codec and the offer order, says the browser decides, and offers no switch', async () => {
    await page.goto(shell.match[1]!);
    await page.getByTestId('username').fill('dora');
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
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
