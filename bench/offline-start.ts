/**
 * Launcher start to the person's workspace on screen with the agent unreachable, on real parts: the web
 * shell (a fresh process each run, in its own D-Bus session with gnome-keyring's Secret Service and a
 * HOME of its own that keeps the keyring between runs, as a device does across reboots), Debian's
 * Chromium, the encrypted offline profile. Once, with the agent up, the person signs in (the sign-in
 * goes to the keychain, the workspace to the profile dir); then the agent stops, and each run starts
 * the web shell and loads the page until the saved workspace is shown. Target: under 1 s.
 * BENCH_RUNS (5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir } from '../test/support/processes.js';
import { percentile, printResult, printTable, round } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'offline bench pw';

/** The web shell under dbus-run-session with an unlocked gnome-keyring; resolves with its URL. */
function startShell(home: string, agentUrl: string, profiles: string): Promise<{ child: ChildProcess; url: string }> {
  const script = `echo -n keyring-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec '${process.execPath}' --import tsx main/webshell/cli.ts --agent ${agentUrl} --profile-dir ${profiles}`;
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', script], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((ok, fail) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /webshell on (\S+)/.exec(out);
      if (m) ok({ child, url: m[1]! });
    });
    child.once('exit', (code) => fail(new Error(`the web shell exited (${code}): ${err}`)));
  });
}

async function main(): Promise<void> {
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
  let shell: ChildProcess | undefined;
  try {
    // Once, online: sign in; the workspace is saved.
    const first = await startShell(home, agentUrl, profiles);
    shell = first.child;
    await page.goto(first.url);
    await page.getByTestId('username').fill('olive');
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('template-terminal').waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 500)); // the save is in the background
    await stopProcess(shell);
    await stopProcess(agent.child);

    const rows: Array<Record<string, number>> = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const started = await startShell(home, agentUrl, profiles);
      shell = started.child;
      const listening = performance.now();
      await page.goto(started.url);
      await page.getByTestId('offline-banner').waitFor({ timeout: 20_000 });
      await page.getByTestId('template-terminal').waitFor();
      const shown = performance.now();
      rows.push({ run: i + 1, shell_start_ms: round(listening - t0, 1), page_to_workspace_ms: round(shown - listening, 1), total_ms: round(shown - t0, 1) });
      await stopProcess(shell);
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
    if (shell) await stopProcess(shell);
    await browser.close();
    await stopProcess(agent.child); // already stopped unless the run failed before; no desktop was started
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
