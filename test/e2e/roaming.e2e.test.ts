/**
 * Roaming between two launchers (two web shells on the same agent, one page each in Debian's
 * Chromium): the person opens their desktop on the second device and it resumes there, the same
 * desktop; the first device's stream ends with "You opened this desktop on another device" and does not
 * take it back by itself; "Open it here" on the first device takes it back, and the second says so.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, stopProcess, type Started } from '../support/processes.js';
import { NO_KEYCHAIN_ENV, startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

const USER = 'roam';
const PASSWORD = 'roaming pw';
let stack: WebShellStack;
let second: Started | undefined;
let other: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-roaming', USER, PASSWORD);
  second = await startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--agent', stack.agentUrl, '--profile-dir', join(stack.dataDir, 'profiles-2')], /^webshell on (\S+)/, 30_000, [], { env: NO_KEYCHAIN_ENV(stack.dataDir) });
  other = await stack.context.newPage();
}, 60_000);

afterAll(async () => {
  await other?.close().catch(() => undefined);
  if (second) await stopProcess(second.child);
  await stack?.stop();
});

async function openTerminal(page: Page, url: string): Promise<string> {
  await page.goto(url);
  await page.getByTestId('username').fill(USER);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('template-terminal').click({ timeout: 20_000 });
  await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 30_000 }).toBe('connected');
  return (await page.getByTestId('session-view').getAttribute('data-session-id'))!;
}

describe('roaming between launchers', () => {
  it('resumes the same desktop on the second device and ends the first one with its sentence; "Open it here" takes it back', async () => {
    const first = await openTerminal(stack.page, stack.shellUrl);
    const resumed = await openTerminal(other, second!.match[1]!);
    expect(resumed).toBe(first);

    await stack.page.getByTestId('opened-elsewhere').waitFor({ timeout: 15_000 });
    expect(await stack.page.getByTestId('opened-elsewhere').textContent()).toMatch(/^You opened this desktop on another device\./);
    // It stays ended: the first device does not take the desktop back by itself.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await other.getByTestId('connection-status').textContent()).toBe('connected');
    expect(await other.getByTestId('opened-elsewhere').count()).toBe(0);

    await stack.page.getByTestId('open-here').click();
    await expect.poll(() => stack.page.getByTestId('connection-status').textContent(), { timeout: 30_000 }).toBe('connected');
    await other.getByTestId('opened-elsewhere').waitFor({ timeout: 15_000 });
  }, 120_000);
});
