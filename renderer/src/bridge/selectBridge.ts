/** Electron's preload bridge when there is one, else the web shell client for plain Chromium. */
import { WEBSHELL_BRIDGE_PATH, type PortholeApi } from '../../../preload/api.js';
import { shellSocketUrl, takeShellKey } from './shellKey.js';
import { WebShellClient } from './webShellClient.js';

export interface Bridge {
  api: PortholeApi;
  /** present only in the web shell case: its link to the core can drop and come back */
  shell?: WebShellClient;
}

export function selectBridge(win: Window): Bridge {
  if (win.porthole) return { api: win.porthole };
  const shell = new WebShellClient({ url: shellSocketUrl(win.location, WEBSHELL_BRIDGE_PATH), key: takeShellKey(win) });
  shell.start();
  return { api: shell, shell };
}
