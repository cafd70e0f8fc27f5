/**
 * The sandboxed preload: exposes `window.porthole` (PortholeApi over IPC) and `window.portholeAdmin`
 * (admin mode's surface, which the main process answers only where admin mode is allowed; elsewhere
 * every call is refused with `admin_disabled`), and nothing else.
 * Bundled to CommonJS (sandboxed preloads cannot be ES modules) with only `electron` external.
 *
 * Errors: the core answers BridgeResult; a failure is rejected as a PortholeError-shaped plain
 * object {name, code, message}. contextBridge copies only the message of a real Error into the
 * page, so an Error instance would lose the code the renderer branches on; a plain object keeps both.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { ADMIN_BRIDGE, ADMIN_METHODS, BRIDGE, BRIDGE_METHODS, PortholeError, type AdminApi, type AdminMethod, type BridgeMethod, type BridgeResult, type LauncherEvent, type PortholeApi } from '../bridge/contract.js';
import { ADMIN_EVENT_CHANNEL, adminChannel, EVENT_CHANNEL, methodChannel } from './channels.js';

const reject = (code: string, message: string) => {
  const error = new PortholeError(code, message);
  return Promise.reject({ name: error.name, code: error.code, message: error.message });
};

async function invoke(method: BridgeMethod, args: unknown[]): Promise<unknown> {
  // Only what the contract declares crosses IPC: the parse drops anything else the page put in.
  const params = BRIDGE[method].params.safeParse(args);
  if (!params.success) return reject('bad_request', `${method} was called with bad arguments; reload the window.`);
  const result = (await ipcRenderer.invoke(methodChannel(method), ...params.data)) as BridgeResult<unknown>;
  if (result.ok) return result.value;
  return reject(result.error.code, result.error.message);
}

const api = {
  ...Object.fromEntries(BRIDGE_METHODS.map((method) => [method, (...args: unknown[]) => invoke(method, args)])),
  onEvent: (listener: (event: LauncherEvent) => void) => {
    // The page gets the event only, never the IpcRendererEvent (which carries `sender`).
    const handler = (_event: Electron.IpcRendererEvent, payload: LauncherEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, handler);
    };
  },
} as PortholeApi;

contextBridge.exposeInMainWorld('porthole', api);

async function invokeAdmin(method: AdminMethod, args: unknown[]): Promise<unknown> {
  const params = ADMIN_BRIDGE[method].params.safeParse(args);
  if (!params.success) return reject('bad_request', `${method} was called with bad arguments; reload the window.`);
  let result: BridgeResult<unknown>;
  try {
    result = (await ipcRenderer.invoke(adminChannel(method), ...params.data)) as BridgeResult<unknown>;
  } catch {
    // No handler: this device does not allow admin mode (the main process never registered it).
    return reject('admin_disabled', 'Admin mode is not allowed on this device.');
  }
  if (result.ok) return result.value;
  return reject(result.error.code, result.error.message);
}

const admin = {
  ...Object.fromEntries(ADMIN_METHODS.map((method) => [method, (...args: unknown[]) => invokeAdmin(method, args)])),
  onEvent: (listener: (event: LauncherEvent) => void) => {
    const handler = (_event: Electron.IpcRendererEvent, payload: LauncherEvent) => listener(payload);
    ipcRenderer.on(ADMIN_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(ADMIN_EVENT_CHANNEL, handler);
    };
  },
} as AdminApi;

contextBridge.exposeInMainWorld('portholeAdmin', admin);
