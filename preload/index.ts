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
import type { ZodType } from 'zod';
import { ADMIN_BRIDGE, ADMIN_METHODS, BRIDGE, BRIDGE_METHODS, PortholeError, type AdminApi, type AdminMethod, type BridgeMethod, type BridgeResult, type LauncherEvent, type PortholeApi } from '../bridge/contract.js';
import { ADMIN_EVENT_CHANNEL, adminChannel, EVENT_CHANNEL, methodChannel } from './channels.js';

const reject = (code: string, message: string) => {
  const error = new PortholeError(code, message);
  return Promise.reject({ name: error.name, code: error.code, message: error.message });
};

/**
 * Calls one method of a declared surface over IPC: only what the declaration allows crosses (the parse
 * drops anything else the page put in). `missing` answers when the main process has no handler.
 */
async function invokeOn(declaration: Record<string, { params: ZodType }>, channel: string, method: string, args: unknown[], missing?: () => Promise<never>): Promise<unknown> {
  const params = declaration[method]!.params.safeParse(args);
  if (!params.success) return reject('bad_request', `${method} was called with bad arguments; reload the window.`);
  let result: BridgeResult<unknown>;
  try {
    result = (await ipcRenderer.invoke(channel, ...(params.data as unknown[]))) as BridgeResult<unknown>;
  } catch (error) {
    if (missing) return missing();
    throw error;
  }
  if (result.ok) return result.value;
  return reject(result.error.code, result.error.message);
}

const invoke = (method: BridgeMethod, args: unknown[]) => invokeOn(BRIDGE, methodChannel(method), method, args);

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

// No handler: this device does not allow admin mode (the main process never registered it).
const invokeAdmin = (method: AdminMethod, args: unknown[]) => invokeOn(ADMIN_BRIDGE, adminChannel(method), method, args, () => reject('admin_disabled', 'Admin mode is not allowed on this device.'));

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
