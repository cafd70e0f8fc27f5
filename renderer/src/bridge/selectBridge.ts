/** Electron's preload bridge when there is one, else the web shell client for plain Chromium. */
import { ADMIN_METHODS, WEBSHELL_ADMIN_PATH, WEBSHELL_BRIDGE_PATH, type AdminApi, type PortholeApi } from '../../../bridge/contract.js';
import { shellSocketUrl, splitKeyFromHash, takeShellKey } from './shellKey.js';
import { WebShellClient } from './webShellClient.js';

export interface Bridge {
  api: PortholeApi;
  /** admin mode's surface, opened on first use (only a shell in admin mode answers it) */
  admin?: () => AdminApi;
  /** present only in the web shell case: its link to the core can drop and come back */
  shell?: WebShellClient;
}

export function selectBridge(win: Window): Bridge {
  if (win.porthole) {
    const admin = win.portholeAdmin;
    return { api: win.porthole, ...(admin ? { admin: () => admin } : {}) };
  }
  const shell = new WebShellClient({ url: shellSocketUrl(win.location, WEBSHELL_BRIDGE_PATH), key: takeShellKey(win) });
  shell.start();
  // A new shell address pasted into this tab only changes the fragment: no reload happens by
  // itself, so store the new key and start over with it.
  win.addEventListener('hashchange', () => {
    if (!splitKeyFromHash(win.location.hash).key) return;
    takeShellKey(win);
    win.location.reload();
  });
  let admin: WebShellClient | undefined;
  const openAdmin = (): AdminApi => {
    if (!admin) {
      admin = new WebShellClient({ url: shellSocketUrl(win.location, WEBSHELL_ADMIN_PATH), key: takeShellKey(win), methods: ADMIN_METHODS, answerTimeoutMs: 10 * 60_000 });
      admin.start();
    }
    return admin as unknown as AdminApi;
  };
  return { api: shell, shell, admin: openAdmin };
}
