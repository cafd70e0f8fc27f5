/**
 * The bridge over IPC: one ipcMain.handle per BRIDGE_METHODS entry, answering BridgeResult, and the
 * core's events pushed to the window. Calls from any frame that is not our app:// page are refused.
 */
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { ADMIN_BRIDGE, ADMIN_METHODS, BRIDGE_METHODS, type AdminApi, type BridgeResult } from '../../bridge/contract.js';
import { callBridge } from '../core/bridge.js';
import type { LauncherCore } from '../core/index.js';
import { ADMIN_EVENT_CHANNEL, adminChannel, EVENT_CHANNEL, methodChannel } from '../../preload/channels.js';
import { isAppUrl } from './policy.js';


function trusted(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  // Only the top frame of our page: no iframes, no other origin (the CSP forbids both anyway).
  return !!frame && frame.parent === null && isAppUrl(frame.url);
}

export function wireIpc(core: LauncherCore): void {
  for (const method of BRIDGE_METHODS) {
    ipcMain.handle(methodChannel(method), async (event, ...params: unknown[]): Promise<BridgeResult<unknown>> => {
      if (!trusted(event)) return { ok: false, error: { code: 'forbidden', message: 'Only the Porthole window may use the launcher core.' } };
      return callBridge(core, method, params);
    });
  }
}

/** Forwards core events to one window's page until it goes away; returns the unsubscribe. */
export function forwardEvents(core: LauncherCore, contents: WebContents): () => void {
  const off = core.onEvent((event) => {
    if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, event);
  });
  contents.once('destroyed', off);
  return off;
}

/** Admin mode's surface: registered only where the policy allows admin mode or with `--admin`. */
export function wireAdminIpc(admin: AdminApi): void {
  for (const method of ADMIN_METHODS) {
    ipcMain.handle(adminChannel(method), async (event, ...params: unknown[]): Promise<BridgeResult<unknown>> => {
      if (!trusted(event)) return { ok: false, error: { code: 'forbidden', message: 'Only the Porthole window may use admin mode.' } };
      return callBridge(admin, method, params, ADMIN_BRIDGE);
    });
  }
}

export function forwardAdminEvents(admin: AdminApi, contents: WebContents): () => void {
  const off = admin.onEvent((event) => {
    if (!contents.isDestroyed()) contents.send(ADMIN_EVENT_CHANNEL, event);
  });
  contents.once('destroyed', off);
  return off;
}
