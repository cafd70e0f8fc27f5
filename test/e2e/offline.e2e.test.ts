/**
 * The cluster out of reach, as a person on the web shell meets it: signed in once with the agent up
 * (the workspace is saved, encrypted, in the shell's profile dir with its key in the secret store),
 * then the agent stops; a reload shows that workspace at once, marked offline, with the reason and a
 * countdown to the next try that backs off; the agent comes back on its address and "Try now" brings
 * the live workspace back at once, without a new sign-in. The web shell runs with gnome-keyring's
 * Secret Service, as on a person's desktop (without a keychain no workspace is saved at all). Sign-out removes the saved workspace; "forget this device" everything.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-offline', 'otto', 'offline pw', { keychain: true });
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
    expect(await page.getByTestId('keychain-banner').count()).toBe(0);
    // A visible countdown to the next try, backing off while the agent stays away (1 s, 2 s, 4 s, ...).
    expect(await page.getByTestId('agent-retry').textContent()).toMatch(/^Trying again (in \d+ s|now)/);
    await expect.poll(async () => await page.getByTestId('agent-retry').textContent(), { timeout: 15_000 }).toMatch(/\(attempt [3-9]\)/);

    // Back: "Try now" asks at once instead of waiting out the countdown.
    await stack.startAgent();
    await page.getByTestId('agent-retry-now').click();
    await page.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: 5_000 });
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

  it('without a keychain: the sign-in screen and the workspace say what that means, and nothing is saved on disk', async () => {
    const bare = await startWebShellStack('e2e-no-keychain', 'nora', 'no keychain pw');
    try {
      await bare.page.goto(bare.shellUrl);
      const said = /^Porthole cannot use this computer's keychain \(.+\)\. You can sign in, but you will be signed out when Porthole closes and no offline copy of your workspace is kept\./;
      await expect.poll(() => bare.page.getByTestId('keychain-banner').textContent(), { timeout: 10_000 }).toMatch(said);
      await bare.signIn();
      await bare.page.getByTestId('template-terminal').waitFor({ timeout: 15_000 });
      expect(await bare.page.getByTestId('keychain-banner').textContent()).toMatch(said);
      await new Promise((r) => setTimeout(r, 500)); // where a save would have happened
      expect(await readdir(join(bare.dataDir, 'profiles')).catch(() => [])).toEqual([]);
    } finally {
      await bare.stop();
    }
  });
});
