/**
 * The embedded default as a person on the web shell meets it, for end-to-end tests: a user in a fresh
 * users file, the real agent (local runtime, sandboxed desktops), the web shell in front of it, and
 * Debian's Chromium on a profile of its own. `stop()` stops the person's desktops before the agent
 * (desktops outlive their agent by design, so they would run on after the test), then removes it all.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { stopAllSessions } from './agent-api.js';
import { launchChromium } from './browser.js';
import { startInKeyringSession } from './keyring-session.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from './processes.js';

const AGENT = 'cluster-agent/agent/cli.ts';
/** A session bus address where none listens: the launcher finds no Secret Service. */
export const NO_KEYCHAIN_ENV = (dir: string) => ({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-session-bus')}` });

export interface WebShellStack {
  agentUrl: string;
  shellUrl: string;
  page: Page;
  /** the browser profile (popups, e.g. a company sign-in window, open in it) */
  context: BrowserContext;
  /** the agent's data dir */
  dataDir: string;
  /** opens the web shell and signs the user in through the sign-in form */
  signIn(): Promise<void>;
  /** the cluster out of reach: the agent stopped (its desktops run on), and started again on the same port */
  stopAgent(): Promise<void>;
  /** the web shell stopped and started again (same HOME, keychain and profile dir): a device restarted; shellUrl changes */
  restartShell(): Promise<void>;
  startAgent(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `serveArgs`: more for `porthole-agent serve` (e.g. `--config FILE`), made from the test's temp dir.
 * `keychain`: the web shell runs with gnome-keyring's Secret Service (its own D-Bus session and HOME),
 * as on a person's desktop; without it there is no keychain, and the launcher says so on screen.
 */
export async function startWebShellStack(
  prefix: string,
  user: string,
  password: string,
  opts: { serveArgs?: (dir: string) => string[]; keychain?: boolean; shellEnv?: (dir: string, agentUrl: string) => Record<string, string> } = {},
): Promise<WebShellStack> {
  const data = tempDir(prefix);
  const usersFile = join(data.path, 'agent', 'users.yaml');
  let agent: Started | undefined;
  let shell: { stop(): Promise<void>; match: RegExpMatchArray } | undefined;
  let browser: BrowserContext | undefined;
  const stop = async () => {
    await browser?.close();
    if (shell) await shell.stop();
    if (agent) await stopAllSessions(agent.match[1]!, user, password).catch(() => undefined);
    if (agent) await stopProcess(agent.child);
    data.remove();
  };
  try {
    const added = await runCli(AGENT, ['users', 'add', user, '--file', usersFile, '--password-stdin'], password);
    if (added.code !== 0) throw new Error(`users add ${user} failed (${added.code}): ${added.stderr}`);
    const serve = (listen: string) => startCli(AGENT, ['serve', '--runtime', 'local', '--listen', listen, '--users', usersFile, '--data-dir', join(data.path, 'agent'), ...(opts.serveArgs?.(data.path) ?? [])], /^listening on (\S+)/);
    agent = await serve('127.0.0.1:0');
    const agentUrl = agent.match[1]!;
    const shellArgs = ['--listen', '127.0.0.1:0', '--agent', agentUrl, '--profile-dir', join(data.path, 'profiles')];
    const shellEnv = opts.shellEnv?.(data.path, agentUrl) ?? {};
    const home = join(data.path, 'home');
    mkdirSync(home, { mode: 0o700 });
    const startShell = async () => {
      if (opts.keychain) {
        shell = await startInKeyringSession(home, [process.execPath, '--import', 'tsx', 'main/webshell/cli.ts', ...shellArgs], /^webshell on (\S+)/, 30_000, shellEnv);
      } else {
        // No session bus at all, whatever the machine running the tests has: no keychain, for certain.
        const started = await startCli('main/webshell/cli.ts', shellArgs, /^webshell on (\S+)/, 30_000, [], { env: { ...NO_KEYCHAIN_ENV(data.path), ...shellEnv } });
        shell = { match: started.match, stop: () => stopProcess(started.child) };
      }
    };
    await startShell();
    browser = await launchChromium(join(data.path, 'chromium'));
    const page = browser.pages()[0] ?? (await browser.newPage());
    const stack: WebShellStack = {
      agentUrl,
      shellUrl: shell!.match[1]!,
      page,
      context: browser,
      dataDir: data.path,
      async signIn() {
        await page.goto(stack.shellUrl);
        await page.getByTestId('username').fill(user);
        await page.getByTestId('password').fill(password);
        await page.getByTestId('sign-in').click();
      },
      async stopAgent() {
        if (agent) await stopProcess(agent.child);
        agent = undefined;
      },
      async startAgent() {
        agent = await serve(new URL(agentUrl).host);
      },
      async restartShell() {
        await shell?.stop();
        shell = undefined;
        await startShell();
        stack.shellUrl = shell!.match[1]!;
      },
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}
