/**
 * The cluster out of reach, as a person on the web shell meets it: signed in once with the agent up
 * (the workspace is saved, encrypted, in the shell's profile dir with its key in the secret store),
 * then the agent stops; a reload shows that workspace at once, marked offline, with the reason, and a
 * start says what it needs; the agent comes back on its address and the live workspace returns by
 * itself, without a new sign-in. Sign-out removes the saved workspace; "forget this device" everything.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-offline', 'otto', 'offline pw');
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('offline workspace (web shell)', () => {
  it('shows the saved workspace when the agent is away, and the live one again when it is back', async () => {
    await stack.signIn();
    await page.getByTestId('template-terminal').waitFor({ timeout: 15_000 });
    const profiles = join(stack.dataDir, 'profiles');
    await expect.poll(async () => (await readdir(profiles).catch(() => [])).length, { timeout: 5_000 }).toBe(1);

    await stack.stopAgent();
    const started = Date.now();
    await page.reload();
    await page.getByTestId('offline-banner').waitFor({ timeout: 10_000 });
    const shownAfterMs = Date.now() - started;
    expect(await page.getByTestId('offline-banner').textContent()).toMatch(/Offline: this is your workspace as it was at/);
    expect(await page.getByTestId('agent-banner').textContent()).toMatch(/cannot be reached|not answering|refused/i);
    await page.getByTestId('template-terminal').waitFor();
    expect(await page.textContent('body')).toMatch(/Signed in as otto/);
    expect(shownAfterMs).toBeLessThan(10_000);

    await stack.startAgent();
    await page.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.getByTestId('agent-banner').count()).toBe(0);
    expect(await page.textContent('body')).toMatch(/Signed in as otto/);

    await page.getByTestId('sign-out').click();
    await page.getByTestId('username').waitFor();
    await expect.poll(async () => (await readdir(profiles)).length).toBe(0);

    // "Forget this device": nothing of Porthole's stays, not even the saved workspaces' key.
    await stack.signIn();
    await page.getByTestId('template-terminal').waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await readdir(profiles).catch(() => [])).length, { timeout: 5_000 }).toBe(1);
    await page.getByTestId('sign-out').click();
    await page.getByTestId('forget-device').click();
    await page.getByTestId('forgotten').waitFor();
    await expect(readdir(profiles)).rejects.toThrow(/ENOENT/);
  });
});
