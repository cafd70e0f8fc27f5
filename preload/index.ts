/**
 * The sandboxed preload: exposes `window.porthole` (PortholeApi over IPC) and nothing else.
 * Bundled to CommonJS (sandboxed preloads cannot be ES modules) with only `electron` external.
 *
 * Errors: the core answers BridgeResult; a failure is rejected as a PortholeError-shaped plain
 * object {name, code, message}. contextBridge copies only the message of a real Error into the
 * page, so an Error instance would lose the code the renderer branches on; a plain object keeps both.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { BRIDGE, BRIDGE_METHODS, PortholeError, type BridgeMethod, type BridgeResult, type LauncherEvent, type PortholeApi } from '../bridge/contract.js';
import { EVENT_CHANNEL, methodChannel } from './channels.js';

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
