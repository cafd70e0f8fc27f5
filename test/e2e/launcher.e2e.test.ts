/**
 * The whole embedded default as a person uses it: the real agent with real Xvnc desktops, the real
 * launcher core and renderer through the web shell, in Debian's Chromium. Nothing is mocked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { screenColours } from '../support/desktop-view.js';
import { getSession, login, stopAllSessions } from '../support/agent-api.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';

const AGENT = 'cluster-agent/agent/cli.ts';
const WEBSHELL = 'main/webshell/cli.ts';
const PASSWORD = 'correct horse battery';

const data = tempDir('e2e');
const agentDir = join(data.path, 'agent');
const usersFile = join(agentDir, 'users.yaml');
let agent: Started;
let agentUrl: string;
let shell: Started;
let browser: BrowserContext;
let page: Page;
let sessionId: string;

function startAgent(listen: string, extra: string[] = []): Promise<Started> {
  return startCli(AGENT, ['serve', '--runtime', 'local', '--listen', listen, '--users', usersFile, '--data-dir', agentDir, ...extra], /^listening on (\S+)/);
}

/** The user's home as the local runtime keeps it, wherever under the data dir it lives. */
function findInHomes(user: string, file: string): string | undefined {
  const stack = [agentDir];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!statSync(path).isDirectory()) continue;
      if (name === user && dir.endsWith('homes')) return existsSync(join(path, file)) ? join(path, file) : undefined;
      stack.push(path);
    }
  }
  return undefined;
}

/** The element a person clicks into to type on the desktop: the video (WebRTC) or noVNC's canvas. */
function screenTarget(p: Page) {
  return p.locator('[data-testid="desktop-screen"] video, [data-testid="desktop-screen"] canvas').first();
}

/** Types into the remote xterm through the page, as a person would: click into it, then type. */
async function typeIntoDesktop(p: Page, text: string): Promise<void> {
  await screenTarget(p).click(); // the centre, where openbox put the terminal
  await p.keyboard.type(text, { delay: 15 });
  await p.keyboard.press('Enter');
}

beforeAll(async () => {
  const added = await runCli(AGENT, ['users', 'add', 'alice', '--file', usersFile, '--password-stdin'], PASSWORD);
  expect(added.code, added.stderr).toBe(0);
  agent = await startAgent('127.0.0.1:0');
  agentUrl = agent.match[1]!;
  shell = await startCli(WEBSHELL, ['--listen', '127.0.0.1:0', '--agent', agentUrl], /^webshell on (\S+)/);
  browser = await launchChromium(join(data.path, 'chromium'));
  await browser.grantPermissions(['clipboard-read', 'clipboard-write']);
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  if (shell) await stopProcess(shell.child);
  // Desktops outlive the agent by design (adoption), so end them through the API before stopping it.
  if (agent && agent.child.exitCode === null) {
    await stopAllSessions(agentUrl, 'alice', PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
  }
  data.remove();
});

// A failing step leaves a screenshot of what a person would have seen (test-results/ is git-ignored).
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) {
    const name = ctx.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    await page.screenshot({ path: join(repoRoot, 'test-results', `e2e-${name}.png`) }).catch(() => undefined);
  }
});

describe('embedded default, end to end', () => {
  it('refuses a wrong password with a sentence, then signs in', async () => {
    await page.goto(shell.match[1]!);
    await expect.poll(() => page.getByTestId('agent-url').inputValue()).toBe(agentUrl);
    await page.getByTestId('username').fill('alice');
    await page.getByTestId('password').fill('not the password');
    await page.getByTestId('sign-in').click();
    await expect.poll(() => page.getByTestId('error').textContent(), { timeout: 10_000 }).toMatch(/password/i);

    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('template-terminal').waitFor({ timeout: 15_000 });
  });

  it('starts the terminal desktop and shows its remote pixels', async () => {
    await page.getByTestId('template-terminal').click();
    await page.getByTestId('session-view').waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 45_000 }).toMatch(/connected/i);
    // WebRTC where the template offers it (this agent has a streamer), H.264 first in the offer.
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('WebRTC');
    // xterm's text and openbox's frame make many colours; an empty or black screen has one.
    await expect.poll(() => screenColours(page), { timeout: 20_000 }).toBeGreaterThan(3);
    await page.getByTestId('stats-toggle').click();
    await expect.poll(() => page.locator('[data-stat="codec"]').textContent(), { timeout: 10_000 }).toBe('H264');
    await expect.poll(() => page.locator('[data-stat="resolution"]').textContent()).toBe('1280×800');
    await page.getByTestId('stats-toggle').click();
    sessionId = (await page.getByTestId('session-view').getAttribute('data-session-id')) ?? '';
    expect(sessionId).toMatch(/^[a-z0-9-]+$/);
  });

  it('passes typing and Ctrl combinations to the desktop: commands run on this machine', async () => {
    await typeIntoDesktop(page, 'touch ~/typed-through-porthole');
    await waitFor('the file typed into the remote xterm', () => findInHomes('alice', 'typed-through-porthole'));

    // Ctrl+C must reach the shell: the remote sleep (a duration no one else uses) must end.
    const sleeping = () => spawnSync('pgrep', ['-f', '^sleep 613$']).status === 0;
    await typeIntoDesktop(page, 'sleep 613');
    await waitFor('the remote sleep to start', () => sleeping() || undefined, 10_000);
    await page.keyboard.press('Control+C');
    await waitFor('Ctrl+C to interrupt the remote sleep', () => !sleeping() || undefined, 10_000);
    await typeIntoDesktop(page, 'touch ~/after-ctrl-c');
    await waitFor('the prompt to come back after Ctrl+C', () => findInHomes('alice', 'after-ctrl-c'), 10_000);
  });

  it('syncs the text clipboard both ways', async () => {
    // Local -> remote: text sent from the launcher's clipboard panel is pasted in xterm (middle click
    // pastes PRIMARY, which Xvnc sets from the client's clipboard) and runs as a command.
    await page.getByRole('button', { name: 'Clipboard' }).click();
    await page.getByTestId('clipboard-text').fill('touch ~/pasted-from-local');
    await page.getByRole('button', { name: 'Send to desktop' }).click();
    // The text travels to Xvnc on the stream while we click: on a loaded machine the first middle click
    // can beat it and paste nothing (an empty line), so paste again as a person would, a few times.
    let pasted: string | undefined;
    for (let attempt = 0; attempt < 4 && !pasted; attempt++) {
      await screenTarget(page).click({ button: 'middle' });
      await page.keyboard.press('Enter'); // bash's bracketed paste waits for Enter, as it would for a person
      pasted = await waitFor('the pasted command to run on the desktop', () => findInHomes('alice', 'pasted-from-local'), 4_000).catch(() => undefined);
    }
    expect(pasted, 'the text sent from the clipboard panel never ran on the desktop').toBeDefined();

    // Remote -> local: a program on the desktop copies text; the launcher receives it.
    await typeIntoDesktop(page, 'echo -n copied-on-the-desktop | xclip -selection clipboard');
    const localClipboard = () =>
      page.evaluate(async () => {
        const panel = document.querySelector<HTMLTextAreaElement>('[data-testid="clipboard-text"]');
        const local = await navigator.clipboard.readText().catch(() => '');
        return `${local}|${panel?.value ?? ''}`;
      });
    await expect.poll(localClipboard, { timeout: 10_000 }).toContain('copied-on-the-desktop');
  });

  it('survives the agent being killed: the same desktop comes back and reconnects', async () => {
    const port = new URL(agentUrl).port;
    await stopProcess(agent.child, 'SIGKILL');
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 20_000 }).not.toMatch(/^connected$/i);

    agent = await startAgent(`127.0.0.1:${port}`);
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 60_000 }).toMatch(/^connected$/i);
    expect(await page.getByTestId('session-view').getAttribute('data-session-id')).toBe(sessionId);
    await expect.poll(() => screenColours(page), { timeout: 20_000 }).toBeGreaterThan(3);

    await typeIntoDesktop(page, 'touch ~/after-agent-restart');
    await waitFor('typing after the agent restarted', () => findInHomes('alice', 'after-agent-restart'));
  });

  it('switches to VNC when asked, and the same desktop takes typing there too', async () => {
    await page.getByTestId('protocol-setting').selectOption('vnc');
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('VNC');
    await expect.poll(() => screenColours(page), { timeout: 20_000 }).toBeGreaterThan(3);
    await typeIntoDesktop(page, 'touch ~/typed-over-vnc');
    await waitFor('typing over VNC', () => findInHomes('alice', 'typed-over-vnc'));
    await page.getByTestId('protocol-setting').selectOption('auto');
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('WebRTC');
  });

  it('falls back to VNC at once, saying why, when WebRTC cannot connect', async () => {
    // Relay only and no TURN server on this agent: no path can be found.
    await page.evaluate(() => localStorage.setItem('porthole.webrtc-relay-only', '1'));
    await page.getByTestId('protocol-setting').selectOption('webrtc');
    await expect.poll(() => page.getByTestId('stream-note').textContent(), { timeout: 20_000 }).toMatch(/^Streaming over VNC: WebRTC could not connect within 6 seconds/);
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('VNC');
    await expect.poll(() => screenColours(page), { timeout: 20_000 }).toBeGreaterThan(3);
    await page.evaluate(() => localStorage.removeItem('porthole.webrtc-relay-only'));
    await page.getByTestId('protocol-setting').selectOption('auto');
    await expect.poll(() => page.getByTestId('stream-protocol').textContent(), { timeout: 20_000 }).toBe('WebRTC');
  });

  it('stops the session from the launcher and keeps the home', async () => {
    await page.getByTestId('back-to-launcher').click();
    await page.getByTestId(`stop-${sessionId}`).click();
    const token = await login(agentUrl, 'alice', PASSWORD);
    await waitFor('the session to stop', async () => (await getSession(agentUrl, token, sessionId))?.phase === 'Stopped', 30_000);
    await expect.poll(() => page.getByTestId(`stop-${sessionId}`).count(), { timeout: 10_000 }).toBe(0);
    expect(findInHomes('alice', 'typed-through-porthole')).toBeDefined();
  });

  it('warns on every desktop when the agent runs them without isolation (--unsafe-shared-desktops)', async () => {
    expect(await page.getByTestId('warning-terminal').count()).toBe(0);
    const port = new URL(agentUrl).port;
    await stopProcess(agent.child);
    agent = await startAgent(`127.0.0.1:${port}`, ['--unsafe-shared-desktops']);
    await page.reload();
    await expect.poll(() => page.getByTestId('warning-terminal').textContent(), { timeout: 20_000 }).toMatch(/not isolated .*--unsafe-shared-desktops/);
  });
});
