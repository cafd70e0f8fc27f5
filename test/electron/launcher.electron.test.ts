/**
 * The Electron layer itself, driven by Playwright's _electron. Electron's binary cannot be downloaded
 * on every machine (no npm registry ships it; it is installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1
 * here), so these tests run where the binary exists and are reported as skipped, saying why, where it
 * does not. The renderer and core they drive are covered in Chromium by test/e2e either way.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, repoRoot, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';
import { stopAllSessions } from '../support/agent-api.js';

function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const electronPath = electronBinary();
if (!electronPath) {
  console.warn("SKIPPED test/electron: Electron's binary is not installed on this machine (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1); run `npx install-electron` or reinstall electron where its download works.");
}

describe.skipIf(!electronPath)('Electron launcher window', () => {
  const data = tempDir('electron');
  const usersFile = join(data.path, 'agent', 'users.yaml');
  let agent: Started;
  let app: ElectronApplication;

  beforeAll(async () => {
    await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'erin', '--file', usersFile, '--password-stdin'], 'pw-erin-123');
    agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
    app = await _electron.launch({
      executablePath: electronPath!,
      args: [join(repoRoot, 'dist', 'electron', 'main.js'), `--agent=${agent.match[1]}`, '--no-sandbox'],
      env: { ...process.env, HOME: data.path },
    });
  });

  afterAll(async () => {
    await app?.close();
    if (agent) {
      await stopAllSessions(agent.match[1]!, 'erin', 'pw-erin-123').catch(() => undefined);
      await stopProcess(agent.child);
    }
    data.remove();
  });

  it('opens one window whose page has no Node, only the typed bridge', async () => {
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
    const page = await app.firstWindow();
    const seen = await page.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      bridge: Object.keys(window.porthole ?? {}).sort(),
    }));
    expect(seen.require).toBe('undefined');
    expect(seen.process).toBe('undefined');
    expect(seen.bridge).toEqual(['connect', 'deviceReport', 'getState', 'listSessions', 'me', 'onEvent', 'setHardwareDecode', 'signIn', 'signOut', 'startSession', 'stopSession']);
  });

  it("reports Chromium's GPU status and keeps the hardware-decode setting for the next start", async () => {
    const page = await app.firstWindow();
    const report = await page.evaluate(() => window.porthole!.deviceReport());
    expect(report.shell).toBe('electron');
    expect(report.gpuFeatures).toHaveProperty('video_decode');
    expect(report.hardwareDecode).toMatchObject({ enabled: true, restartNeeded: false });
    const off = await page.evaluate(() => window.porthole!.setHardwareDecode(false));
    expect(off.hardwareDecode).toMatchObject({ enabled: false, restartNeeded: true });
    const back = await page.evaluate(() => window.porthole!.setHardwareDecode(true));
    expect(back.hardwareDecode).toMatchObject({ enabled: true, restartNeeded: false });
  });

  it('signs in and shows a running desktop', async () => {
    const page = await app.firstWindow();
    await page.getByTestId('username').fill('erin');
    await page.getByTestId('password').fill('pw-erin-123');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('template-terminal').click();
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 45_000 }).toMatch(/^connected$/i);
  });
});
