/**
 * Electron main: thin. Chromium switches, the app:// protocol, one hardened window, the core's API
 * over IPC, and the OS keychain for the sign-in. All launcher logic lives in main/core.
 */
import { app, BrowserWindow } from 'electron';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLauncherCore, openSecretStore } from '../core/index.js';
import { stderrLogger } from '../core/logger.js';
import { handleAppProtocol, registerAppScheme } from './app-protocol.js';
import { deviceSettingsFile, electronDevice, readDeviceSettings } from './device.js';
import { forwardAdminEvents, forwardEvents, wireAdminIpc, wireIpc } from './ipc.js';
import { chromiumSwitches, parseLauncherArgs } from './policy.js';
import { loadPolicySync, policyTable } from '../core/policy.js';
import type { EffectivePolicy } from '../../bridge/contract.js';
import { createLauncherWindow, guardWebContents, hardenSession } from './window.js';

// Bundled to dist/electron/main.js; the preload sits next to it and the renderer in dist/renderer.
const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = join(here, '..', 'renderer');

function hasRenderNode(): boolean {
  try {
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

const gpuProbe = {
  featureStatus: () => ({ ...app.getGPUFeatureStatus() }) as Record<string, string>,
  basicInfo: () => app.getGPUInfo('basic'),
};

function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const args = parseLauncherArgs(process.argv.slice(1));
  let policy: EffectivePolicy;
  try {
    policy = loadPolicySync();
  } catch (error) {
    // A policy that does not parse must not leave a managed device unmanaged.
    process.stderr.write(`porthole: ${error instanceof Error ? error.message : String(error)}\n`);
    app.exit(2);
    return;
  }
  if (args.showPolicy) {
    process.stdout.write(`${policyTable(policy)}\n`);
    app.exit(0);
    return;
  }
  const kiosk = args.kiosk || policy.kiosk.value;
  if (args.admin && !policy.admin.value) policy = { ...policy, admin: { value: true, source: 'flag' as const } };
  // Admin mode's library (and the Kubernetes client) loads only where admin mode is allowed.
  const admin = policy.admin.value ? import('../core/admin.js').then((m) => m.createAdminApi()) : undefined;
  const settingsFile = deviceSettingsFile(app.getPath('userData'));
  const settings = readDeviceSettings(settingsFile);
  // A managed hardware-decode setting wins over the person's.
  const facts = { platform: process.platform, hasRenderNode: hasRenderNode(), env: process.env, ...settings, ...(policy.hardwareDecode.value === null ? {} : { hardwareDecode: policy.hardwareDecode.value }) };
  for (const [name, value] of chromiumSwitches(facts)) {
    app.commandLine.appendSwitch(name, value);
  }
  app.enableSandbox();
  registerAppScheme();
  const core = createLauncherCore({ logger: stderrLogger, secretStore: openSecretStore(stderrLogger), defaultAgentUrl: args.agentUrl, device: electronDevice(settingsFile, facts, gpuProbe), profileDir: join(app.getPath('userData'), 'profiles'), policy });
  app.on('web-contents-created', (_event, contents) => guardWebContents(contents, (url) => core.isCompanySignInUrl(url)));
  let win: BrowserWindow | undefined;

  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  void app.whenReady().then(() => {
    hardenSession();
    handleAppProtocol(rendererDir);
    wireIpc(core);
    void admin?.then(wireAdminIpc);
    win = createLauncherWindow({ preloadDir: here, kiosk });
    forwardEvents(core, win.webContents);
    const contents = win.webContents;
    void admin?.then((a) => forwardAdminEvents(a, contents));
    win.on('closed', () => {
      win = undefined;
    });
  });

  app.on('window-all-closed', () => {
    void core.close().finally(() => app.quit());
  });
}

main();
