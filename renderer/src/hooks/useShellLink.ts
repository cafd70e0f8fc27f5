import { useSyncExternalStore } from 'react';
import type { ShellLinkState, WebShellClient } from '../bridge/webShellClient.js';

const noShell = () => () => undefined;

/** The web shell link's state, or undefined under Electron (whose IPC does not drop). */
export function useShellLink(shell: WebShellClient | undefined): ShellLinkState | undefined {
  return useSyncExternalStore(
    shell ? (onChange) => shell.onLinkChange(onChange) : noShell,
    () => shell?.link,
  );
}
