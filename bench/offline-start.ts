/**
 * Launcher start to the person's workspace on screen with the agent unreachable, on real parts: the web
 * shell (a fresh process each run, in its own D-Bus session with gnome-keyring's Secret Service and a
 * HOME of its own that keeps the keyring between runs, as a device does across reboots), Debian's
 * Chromium, the encrypted offline profile. The web shell is its bundle under plain node
 * (dist/webshell/porthole-webshell.mjs), as a thin client without Electron runs it. Once, with the agent up, the person signs in (the sign-in
 * goes to the keychain, the workspace to the profile dir); then the agent stops, and each run starts
 * the web shell and loads the page until the saved workspace is shown. Target: under 1 s.
 * BENCH_RUNS (5).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.js';
import { startInKeyringSession } from '../test/support/keyring-session.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir } from '../test/support/processes.js';
import { percentile, printResult, printTable, round } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'offline bench pw';

/** What a thin client without Electron runs: the web shell's bundle under plain node (built here if missing). */
const BUNDLE = join(repoRoot, 'dist', 'webshell', 'porthole-webshell.mjs');

/** The web shell under dbus-run-session with an unlocked gnome-keyring; resolves with its URL. */
async function startShell(home: string, agentUrl: string, profiles: string): Promise<{ stop(): Promise<void>; url: string }> {
  const started = await startInKeyringSession(home, [process.execPath, BUNDLE, '--agent', agentUrl, '--profile-dir', profiles], /webshell on (\S+)/);
  return { stop: started.stop, url: started.match[1]! };
}

async function main(): Promise<void> {
  if (!existsSync(BUNDLE) || !existsSync(join(repoRoot, 'dist', 'renderer', 'index.html'))) {
    execFileSync('npm', ['run', '-s', 'build:renderer'], { cwd: repoRoot, stdio: 'inherit' });
    execFileSync('npm', ['run', '-s', 'build:webshell'], { cwd: repoRoot, stdio: 'inherit' });
  }
  const data = tempDir('bench-offline');
  const home = join(data.path, 'home');
  mkdirSync(home, { mode: 0o700 });
  const profiles = join(data.path, 'profiles');
  const usersFile = join(data.path, 'users.yaml');
  await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'olive', '--file', usersFile, '--password-stdin'], PASSWORD);
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
  const agentUrl = agent.match[1]!;
  const browser = await launchChromium(join(data.path, 'chromium'));
  const page = browser.pages()[0] ?? (await browser.newPage());
  let shell: { stop(): Promise<void> } | undefined;
  try {
    // Once, online: sign in; the workspace is saved.
    const first = await startShell(home, agentUrl, profiles);
    shell = first;
    await page.goto(first.url);
    await page.getByTestId('username').fill('olive');
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('template-terminal').waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 500)); // the save is in the background
    await shell.stop();
    await stopProcess(agent.child);

    const rows: Array<Record<string, number>> = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const started = await startShell(home, agentUrl, profiles);
      shell = started;
      const listening = performance.now();
      await page.goto(started.url);
      await page.getByTestId('offline-banner').waitFor({ timeout: 20_000 });
      await page.getByTestId('template-terminal').waitFor();
      const shown = performance.now();
      rows.push({ run: i + 1, shell_start_ms: round(listening - t0, 1), page_to_workspace_ms: round(shown - listening, 1), total_ms: round(shown - t0, 1) });
      await shell.stop();
      shell = undefined;
    }
    printTable(`Start to the saved workspace on screen, agent unreachable (${RUNS} runs)`, rows);
    const col = (k: string) => rows.map((r) => r[k]!);
    printResult({
      benchmark: 'offline-start',
      runs: RUNS,
      page_to_workspace_p50_ms: round(percentile(col('page_to_workspace_ms'), 50), 1),
      shell_start_p50_ms: round(percentile(col('shell_start_ms'), 50), 1),
      total_p50_ms: round(percentile(col('total_ms'), 50), 1),
      target_ms: 1000,
    });
  } finally {
    if (shell) await shell.stop();
    await browser.close();
    await stopProcess(agent.child); // a no-op unless the run failed before it was stopped; no desktop was started
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
