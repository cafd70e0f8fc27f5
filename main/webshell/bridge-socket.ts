/**
 * One web shell bridge connection: hello with the per-launch key first, then calls and events
 * (protocol in bridge/contract.ts). Wrong key, a call before hello, or silence closes the socket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { LauncherEvent, WebShellMessage } from '../../bridge/contract.js';
import { BRIDGE } from '../../bridge/contract.js';
import { callBridge, type Declaration } from '../core/bridge.js';

/** Close codes the page can tell apart (4000-4999 are the application's). */
export const CLOSE_WRONG_KEY = 4401;
export const CLOSE_BAD_MESSAGE = 4400;
export const HELLO_TIMEOUT_MS = 5_000;

/** Constant-time comparison that doesn't leak the key's length either. */
export function keyMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** `declaration`: which surface this socket serves (the launcher's, or admin mode's). */
export function serveBridgeSocket(ws: WebSocket, api: { onEvent(listener: (event: LauncherEvent) => void): () => void }, key: string, declaration: Declaration = BRIDGE): void {
  let unsubscribe: (() => void) | undefined;
  const send = (message: WebShellMessage): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const helloTimer = setTimeout(() => ws.close(CLOSE_WRONG_KEY, 'no hello'), HELLO_TIMEOUT_MS);

  ws.on('message', (data, isBinary) => {
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      message = undefined;
    }
    if (!message || typeof message !== 'object') {
      ws.close(CLOSE_BAD_MESSAGE, 'not a bridge message');
      return;
    }
    if (!unsubscribe) {
      clearTimeout(helloTimer);
      if (!keyMatches(key, (message as { hello?: unknown }).hello)) {
        ws.close(CLOSE_WRONG_KEY, 'wrong key');
        return;
      }
      unsubscribe = api.onEvent((event: LauncherEvent) => send({ event }));
      send({ welcome: true });
      return;
    }
    const { id, method, params } = message as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
      ws.close(CLOSE_BAD_MESSAGE, 'call without an id');
      return;
    }
    void callBridge(api, method, params, declaration).then((result) => send({ id, result }));
  });

  ws.on('close', () => {
    clearTimeout(helloTimer);
    unsubscribe?.();
  });
  ws.on('error', () => ws.terminate());
}
