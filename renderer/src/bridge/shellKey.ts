/**
 * The web shell prints `http://127.0.0.1:PORT/#key=SECRET`. The page takes the key out of the
 * fragment (so it does not linger in the address bar, history or screenshots) and keeps it in
 * sessionStorage, which only this origin and this tab can read, so a reload still works.
 */
const STORAGE_KEY = 'porthole.webshell.key';

export interface HashKey {
  key?: string;
  /** the fragment without the key, '' when nothing else was there */
  rest: string;
}

export function splitKeyFromHash(hash: string): HashKey {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const key = params.get('key') ?? undefined;
  params.delete('key');
  const rest = params.toString();
  return { key: key || undefined, rest: rest ? `#${rest}` : '' };
}

/** Reads the key from the address (removing it) or from this tab's storage. */
export function takeShellKey(win: Window): string | undefined {
  const { key, rest } = splitKeyFromHash(win.location.hash);
  if (key) {
    win.history.replaceState(win.history.state, '', `${win.location.pathname}${win.location.search}${rest}`);
    try {
      win.sessionStorage.setItem(STORAGE_KEY, key);
    } catch {
      // storage may be disabled; the key still works until the page reloads
    }
    return key;
  }
  try {
    return win.sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/** ws://host/bridge for http pages, wss:// for https. */
export function shellSocketUrl(location: { protocol: string; host: string }, path: string): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}
