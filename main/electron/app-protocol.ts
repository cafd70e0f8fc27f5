/**
 * Serves the built renderer on app://porthole/ from dist/renderer, with the same headers as the
 * web shell. A custom standard+secure scheme gives the page a real origin (unlike file://), so
 * permission checks and the CSP's 'self' mean exactly our files.
 */
import { protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentType, rendererFile, rendererHeaders } from '../core/renderer-policy.js';
import { APP_HOST, APP_SCHEME } from './policy.js';

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }]);
}

export function handleAppProtocol(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === APP_HOST ? rendererFile(url.pathname) : undefined;
    if (!file || request.method !== 'GET') return new Response('Not found', { status: 404, headers: rendererHeaders() });
    try {
      const body = await readFile(join(rendererDir, file));
      return new Response(body, { status: 200, headers: { ...rendererHeaders(), 'content-type': contentType(file) } });
    } catch {
      const text = file === 'index.html' ? `The launcher is not built (${join(rendererDir, 'index.html')} is missing). Run: npm run build` : 'Not found';
      return new Response(text, { status: 404, headers: { ...rendererHeaders(), 'content-type': 'text/plain; charset=utf-8' } });
    }
  });
}
