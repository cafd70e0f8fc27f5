/**
 * The sandboxed preload: exposes `window.porthole` (PortholeApi over IPC) and nothing else.
 * Bundled to CommonJS (sandboxed preloads cannot be ES modules) with only `electron` external.
 *
 * Errors: the core answers BridgeResult; a failure is rejected as a PortholeError-shaped plain
 * object {name, code, message}. contextBridge copies only the message of a real Error into the
 * page, so an Error instance would lose the code the renderer branches on; a plain object keeps both.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { ConnectResponse, Me, Session } from '../cluster-agent/contract/index.js';
import { EVENT_CHANNEL, methodChannel } from './channels.js';
import { PortholeError, type BridgeMethod, type BridgeResult, type DeviceReport, type LauncherEvent, type LauncherState, type PortholeApi, type SignInRequest } from './api.js';


async function invoke<T>(method: BridgeMethod, ...params: unknown[]): Promise<T> {
  const result = (await ipcRenderer.invoke(methodChannel(method), ...params)) as BridgeResult<T>;
  if (result.ok) return result.value;
  const error = new PortholeError(result.error.code, result.error.message);
  throw { name: error.name, code: error.code, message: error.message };
}

const api: PortholeApi = {
  getState: () => invoke<LauncherState>('getState'),
  signIn: (req: SignInRequest) =>
    // Copy only the fields the core needs: nothing else from the page crosses IPC.
    invoke<LauncherState>('signIn', { agentUrl: String(req?.agentUrl ?? ''), username: String(req?.username ?? ''), password: String(req?.password ?? '') }),
  signOut: async () => {
    await invoke<null>('signOut');
  },
  me: () => invoke<Me>('me'),
  listSessions: () => invoke<Session[]>('listSessions'),
  startSession: (template: string) => invoke<Session>('startSession', String(template)),
  stopSession: async (id: string) => {
    await invoke<null>('stopSession', String(id));
  },
  connect: (id: string) => invoke<ConnectResponse>('connect', String(id)),
  deviceReport: () => invoke<DeviceReport>('deviceReport'),
  setHardwareDecode: (enabled: boolean) => invoke<DeviceReport>('setHardwareDecode', enabled === true),
  onEvent: (listener: (event: LauncherEvent) => void) => {
    // The page gets the event only, never the IpcRendererEvent (which carries `sender`).
    const handler = (_event: Electron.IpcRendererEvent, payload: LauncherEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, handler);
    };
  },
};

contextBridge.exposeInMainWorld('porthole', api);
