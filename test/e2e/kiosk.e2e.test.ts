/**
 * A kiosk thin client as a person meets it, through the web shell with a policy file
 * (PORTHOLE_POLICY) and gnome-keyring's Secret Service: the agent address is fixed; signing in starts
 * the kiosk's desktop at once; left alone past the policy's timer the kiosk signs the person out and
 * nothing of them stays on the device (a restarted shell restores no sign-in, no workspace file was
 * written), while their desktop keeps running in the cluster; the cluster out of reach fills the screen
 * with a countdown, and the kiosk carries on by itself when it is back.
 */
import { readdir } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../support/agent-api.js';
import { repoRoot, runCli } from '../support/processes.js';
import { startWebShellStack, type WebShellStack } from '../support/web-shell-stack.js';

const USER = 'kim';
const PASSWORD = 'kiosk pw';
const IDLE_SECONDS = 12;
let stack: WebShellStack;
let page: Page;

beforeAll(async () => {
  stack = await startWebShellStack('e2e-kiosk', USER, PASSWORD, {
    keychain: true,
    shellEnv: (dir, agentUrl) => {
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify({ agentUrl, kiosk: { enabled: true, autoStartTemplate: 'terminal', idleSignOutSeconds: IDLE_SECONDS }, clipboard: 'to-desktop' }));
      return { PORTHOLE_POLICY: file };
    },
  });
  page = stack.page;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

// A failing step leaves a screenshot of what a person would have seen (test-results/ is git-ignored).
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) {
    const name = ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    await page.screenshot({ path: join(repoRoot, 'test-results', `e2e-kiosk-${name}.png`) }).catch(() => undefined);
  }
});

async function sessionsOf(agentUrl: string): Promise<Array<{ id: string; phase: string }>> {
  const token = await login(agentUrl, USER, PASSWORD);
  const res = await fetch(new URL('/api/v1/sessions', agentUrl), { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { sessions: Array<{ id: string; phase: string }> }).sessions;
}

describe('kiosk (web shell with a policy file)', () => {
  it('starts the desktop at sign-in, signs out an idle person leaving nothing on the device, and keeps the desktop running', async () => {
    await page.goto(stack.shellUrl);
    // The managed address: shown, cannot be changed.
    await expect.poll(() => page.getByTestId('agent-url').inputValue()).toBe(stack.agentUrl);
    expect(await page.getByTestId('agent-url').getAttribute('readonly')).not.toBeNull();
    await page.getByTestId('agent-url-managed').waitFor();
    expect(await page.getByTestId('forget-device').count()).toBe(0);

    await page.getByTestId('username').fill(USER);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    // No launcher list: the kiosk's desktop fills the screen, and leaving it is signing out.
    await page.getByTestId('session-view').waitFor({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 30_000 }).toMatch(/connected/i);
    expect(await page.getByTestId('back-to-launcher').textContent()).toBe('Sign out');
    const running = (await sessionsOf(stack.agentUrl)).filter((s) => s.phase === 'Running');
    expect(running).toHaveLength(1);

    // Nobody touches it: a warning, then the sign-in screen saying why.
    await page.getByTestId('idle-warning').waitFor({ timeout: IDLE_SECONDS * 1000 });
    await expect.poll(() => page.getByTestId('idle-warning').textContent()).toMatch(/signing out in \d+ s/);
    await page.getByTestId('username').waitFor({ timeout: (IDLE_SECONDS + 5) * 1000 });
    expect(await page.textContent('body')).toMatch(/You were signed out after \d+ s without use\. Your desktop keeps running/);

    // Nothing of the person on the device: no workspace file ever, and a restarted shell restores nobody.
    expect(await readdir(join(stack.dataDir, 'profiles')).catch(() => [])).toEqual([]);
    await stack.restartShell();
    await page.goto(stack.shellUrl);
    await page.getByTestId('username').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('session-view').count()).toBe(0);

    // ...while the desktop runs on in the cluster, and the next sign-in resumes that same one.
    expect((await sessionsOf(stack.agentUrl)).filter((s) => s.phase === 'Running').map((s) => s.id)).toEqual(running.map((s) => s.id));
    await page.getByTestId('username').fill(USER);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('session-view').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('session-view').getAttribute('data-session-id')).toBe(running[0]!.id);
    await page.getByTestId('back-to-launcher').click();
    await page.getByTestId('username').waitFor({ timeout: 10_000 });
  }, 120_000);

  it('fills the screen with a countdown while the cluster is out of reach, and carries on by itself', async () => {
    await stack.stopAgent();
    await page.reload();
    await page.getByTestId('kiosk-unreachable').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('kiosk-unreachable').textContent()).toMatch(/Desktops are out of reach.*cannot reach the agent/s);
    await expect.poll(() => page.getByTestId('agent-retry').textContent(), { timeout: 10_000 }).toMatch(/Trying again in \d+ s \(attempt [2-9]\)/);
    expect(await page.getByTestId('username').count()).toBe(0);

    await stack.startAgent();
    await page.getByTestId('agent-retry-now').click();
    await page.getByTestId('username').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('kiosk-unreachable').count()).toBe(0);
  }, 60_000);

  it('enrols with a code from the administrator; a revoked kiosk ends the sign-in at once and says so', async () => {
    const made = await runCli('cluster-agent/agent/cli.ts', ['devices', 'enroll', '--name', 'lobby-1', '--data-dir', join(stack.dataDir, 'agent')]);
    expect(made.code, made.stderr).toBe(0);
    await page.goto(stack.shellUrl);
    await page.getByTestId('enrol-code').fill('not-a-code');
    await page.getByTestId('enrol').click();
    await expect.poll(() => page.getByTestId('enrol-error').textContent()).toMatch(/not valid/);
    await page.getByTestId('enrol-code').fill(made.stdout.trim());
    await page.getByTestId('enrol').click();
    await expect.poll(() => page.getByTestId('device-enrolled').textContent()).toBe('This device is enrolled as “lobby-1”.');

    await page.getByTestId('username').fill(USER);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('session-view').waitFor({ timeout: 20_000 });

    const revoked = await runCli('cluster-agent/agent/cli.ts', ['devices', 'revoke', 'lobby-1', '--data-dir', join(stack.dataDir, 'agent')]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // Someone is using it (no idle sign-out): the revocation alone ends the sign-in, within seconds.
    const started = Date.now();
    const wiggle = setInterval(() => void page.mouse.move(100 + Math.random() * 200, 200).catch(() => undefined), 1_000);
    try {
      await page.getByTestId('username').waitFor({ timeout: 11_000 });
    } finally {
      clearInterval(wiggle);
    }
    expect(Date.now() - started).toBeLessThan(11_000);
    expect(await page.textContent('body')).toMatch(/enrolment was revoked/);
    // The revoked key is gone from the device: it offers to be enrolled again.
    await page.getByTestId('enrol-device').waitFor();
    expect(await page.getByTestId('device-enrolled').count()).toBe(0);
  }, 90_000);
});
