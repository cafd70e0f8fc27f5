/**
 * The Electron layer as far as it runs without Electron's binary (not downloadable here): the
 * bundles build, the sandboxed preload is CommonJS needing only `electron`, and the preload bundle,
 * run in a VM context with stand-ins for the two Electron objects it touches, exposes exactly
 * `window.porthole` and unwraps the real core's BridgeResults. test/electron drives the real
 * window where the binary exists.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callBridge } from '../../main/core/bridge.js';
import { createLauncherCore, MemorySecretStore, type LauncherCore } from '../../main/core/index.js';
import { silentLogger } from '../../main/core/logger.js';
import type { AdminApi, LauncherEvent, PortholeApi } from '../../bridge/contract.js';
import { repoRoot, tempDir } from '../support/processes.js';

const out = tempDir('electron-bundle');
let core: LauncherCore;

beforeAll(() => {
  execFileSync(process.execPath, [join(repoRoot, 'build/bundle-electron.mjs'), '--outdir', out.path], { stdio: 'pipe' });
  core = createLauncherCore({ secretStore: new MemorySecretStore(), logger: silentLogger, defaultAgentUrl: 'http://127.0.0.1:7380' });
});

afterAll(async () => {
  await core?.close();
  out.remove();
});

/** Loads preload.cjs as Electron's sandbox would: a CommonJS wrapper whose require knows only electron. */
function loadPreload(): { exposed: Record<string, unknown>; emit(event: LauncherEvent): void; listenerCount(): number } {
  const exposed: Record<string, unknown> = {};
  const listeners = new Set<(e: unknown, payload: LauncherEvent) => void>();
  const electron = {
    contextBridge: { exposeInMainWorld: (name: string, api: unknown) => (exposed[name] = api) },
    ipcRenderer: {
      // Same path as ipcMain.handle in main/electron/ipc.ts: channel -> callBridge on the real core. The
      // admin channels have no handler, as in a main process where admin mode is not allowed.
      invoke: (channel: string, ...params: unknown[]) =>
        channel.startsWith('porthole-admin:') ? Promise.reject(new Error(`No handler registered for '${channel}'`)) : callBridge(core, channel.replace(/^porthole:/, ''), params),
      on: (_channel: string, fn: (e: unknown, payload: LauncherEvent) => void) => listeners.add(fn),
      removeListener: (_channel: string, fn: (e: unknown, payload: LauncherEvent) => void) => listeners.delete(fn),
    },
  };
  const required: string[] = [];
  const module = { exports: {} };
  const code = readFileSync(join(out.path, 'preload.cjs'), 'utf8');
  runInNewContext(`(function (require, module, exports) {${code}\n})`, {})(
    (name: string) => {
      required.push(name);
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    },
    module,
    module.exports,
  );
  expect(required).toEqual(['electron']);
  return { exposed, emit: (event) => listeners.forEach((fn) => fn({ sender: 'secret' }, event)), listenerCount: () => listeners.size };
}

describe('Electron bundles', () => {
  it('builds an ESM main and a CommonJS preload that needs only electron', () => {
    const main = readFileSync(join(out.path, 'main.js'), 'utf8');
    const preload = readFileSync(join(out.path, 'preload.cjs'), 'utf8');
    expect(main).toMatch(/from "electron"/);
    expect(main).not.toMatch(/from "ws"|from "fastify"/); // the web shell stays out of Electron
    expect(preload).not.toMatch(/^\s*import /m);
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
  });

  it('the preload exposes window.porthole (the whole PortholeApi) and window.portholeAdmin (refused unless the main process allows admin mode), nothing else', async () => {
    const { exposed } = loadPreload();
    expect(Object.keys(exposed)).toEqual(['porthole', 'portholeAdmin']);
    expect(Object.keys(exposed.portholeAdmin as object).sort()).toEqual(['adminAgent', 'adminContexts', 'adminDeleteTemplate', 'adminDoctor', 'adminInstall', 'adminPlan', 'adminSaveTemplate', 'adminSessions', 'adminStopSession', 'adminTemplates', 'adminUninstall', 'adminVerify', 'onEvent']);
    await expect((exposed.portholeAdmin as AdminApi).adminContexts('')).rejects.toEqual({ name: 'PortholeError', code: 'admin_disabled', message: 'Admin mode is not allowed on this device.' });
    // every method of the bridge contract, generated from it, and onEvent
    expect(Object.keys(exposed.porthole as object).sort()).toEqual(['connect', 'deviceEnrollment', 'deviceReport', 'enrollDevice', 'finishCompanySignIn', 'forgetDevice', 'getState', 'listSessions', 'me', 'offlineWorkspace', 'onEvent', 'policy', 'retryAgentNow', 'setHardwareDecode', 'signIn', 'signInOptions', 'signOut', 'startCompanySignIn', 'startSession', 'stopSession']);
  });

  it('unwraps results, rejects with code and sentence, and passes events without the IPC event', async () => {
    const { exposed, emit, listenerCount } = loadPreload();
    const api = exposed.porthole as PortholeApi;
    expect(await api.getState()).toEqual({ signedIn: false, agentUrl: 'http://127.0.0.1:7380' });
    await expect(api.me()).rejects.toEqual({ name: 'PortholeError', code: 'signed_out', message: 'You are not signed in. Sign in to continue.' });
    await expect(api.signIn({ agentUrl: 'ftp://x', username: 'a', password: 'b' })).rejects.toMatchObject({ code: 'invalid_agent_url' });

    const got: unknown[] = [];
    const off = api.onEvent((e) => got.push(e));
    emit({ type: 'agent', reachable: false, message: 'gone' });
    expect(got).toEqual([{ type: 'agent', reachable: false, message: 'gone' }]);
    off();
    expect(listenerCount()).toBe(0);
  });
});
