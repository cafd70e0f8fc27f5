/**
 * Roaming between two launchers, on real parts: one agent (local runtime, a real sandboxed desktop),
 * two web shells (two devices), Debian's Chromium with one page each. The person's desktop runs and
 * shows on device A; each round the person opens it on the other device: measured are the time from
 * clicking the desktop there to its stream connected (the same desktop, resumed), and the time until
 * the device that had it shows "You opened this desktop on another device". BENCH_RUNS (5).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/support/browser.js';
import { stopAllSessions } from '../test/support/agent-api.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../test/support/processes.js';
import { NO_KEYCHAIN_ENV } from '../test/support/web-shell-stack.js';
import { percentile, printResult, printTable, round } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const USER = 'rover';
const PASSWORD = 'roaming bench pw';

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('username').fill(USER);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('template-terminal').waitFor({ timeout: 20_000 });
}

async function connected(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.textContent === 'connected', undefined, { timeout: 30_000, polling: 20 });
}

async function main(): Promise<void> {
  const data = tempDir('bench-roaming');
  const usersFile = join(data.path, 'users.yaml');
  await runCli('cluster-agent/agent/cli.ts', ['users', 'add', USER, '--file', usersFile, '--password-stdin'], PASSWORD);
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
  const agentUrl = agent.match[1]!;
  const shells: Started[] = [];
  const browser = await launchChromium(join(data.path, 'chromium'));
  try {
    for (const n of [1, 2]) {
      shells.push(await startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--agent', agentUrl, '--profile-dir', join(data.path, `profiles-${n}`)], /^webshell on (\S+)/, 30_000, [], { env: NO_KEYCHAIN_ENV(data.path) }));
    }
    const pages = [browser.pages()[0] ?? (await browser.newPage()), await browser.newPage()];
    for (const [i, page] of pages.entries()) await signIn(page, shells[i]!.match[1]!);
    // The desktop starts on A and shows there.
    await pages[0]!.getByTestId('template-terminal').click();
    await connected(pages[0]!);

    const rows: Array<Record<string, number>> = [];
    let holder = 0;
    for (let i = 0; i < RUNS; i++) {
      const from = pages[holder]!;
      const to = pages[1 - holder]!;
      // The other device: at its launcher list (first round) or at the "opened elsewhere" screen.
      const t0 = performance.now();
      if (await to.getByTestId('open-here').count()) await to.getByTestId('open-here').click();
      else await to.getByTestId('template-terminal').click();
      const endedThere = from.getByTestId('opened-elsewhere').waitFor({ timeout: 30_000 }).then(() => performance.now());
      await connected(to);
      const resumed = performance.now();
      const ended = await endedThere;
      rows.push({ run: i + 1, resume_ms: round(resumed - t0, 1), other_device_told_ms: round(ended - t0, 1) });
      holder = 1 - holder;
    }
    printTable(`Opening the running desktop on the other device (${RUNS} runs)`, rows);
    const col = (k: string) => rows.map((r) => r[k]!);
    printResult({
      benchmark: 'roaming',
      runs: RUNS,
      resume_p50_ms: round(percentile(col('resume_ms'), 50), 1),
      resume_max_ms: round(Math.max(...col('resume_ms')), 1),
      other_device_told_p50_ms: round(percentile(col('other_device_told_ms'), 50), 1),
    });
  } finally {
    await browser.close();
    for (const s of shells) await stopProcess(s.child);
    await stopAllSessions(agentUrl, USER, PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
