/**
 * The web shell on 127.0.0.1: renderer files with the security headers, and the bridge socket that
 * only our own page holding the per-launch key may use. Also its CLI, as scripts start it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLauncherCore, MemorySecretStore, type LauncherCore } from '../../main/core/index.js';
import { silentLogger } from '../../main/core/logger.js';
import { CLOSE_WRONG_KEY } from '../../main/webshell/bridge-socket.js';
import { startWebShell, type WebShell } from '../../main/webshell/server.js';
import { WEBSHELL_BRIDGE_PATH, type WebShellMessage } from '../../bridge/contract.js';
import { repoRoot, startCli, stopProcess, tempDir } from '../support/processes.js';

const dir = tempDir('webshell');
const rendererDir = join(dir.path, 'renderer');
let core: LauncherCore;
let shell: WebShell;

beforeAll(async () => {
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Porthole</title><script type="module" src="/assets/app.js"></script>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log("hi")');
  writeFileSync(join(dir.path, 'secret.txt'), 'outside the renderer');
  core = createLauncherCore({ secretStore: new MemorySecretStore(), logger: silentLogger, defaultAgentUrl: 'http://127.0.0.1:7380' });
  shell = await startWebShell({ api: core, rendererDir });
});

afterAll(async () => {
  await shell?.close();
  await core?.close();
  dir.remove();
});

/** Opens the bridge socket; resolves with the messages and how it ended. */
function bridge(opts: { origin?: string; hello?: unknown; calls?: unknown[] }): Promise<{ messages: WebShellMessage[]; close?: number; refused?: number }> {
  return new Promise((ok) => {
    const ws = new WebSocket(`ws://127.0.0.1:${shell.port}${WEBSHELL_BRIDGE_PATH}`, { origin: opts.origin ?? shell.origin });
    const messages: WebShellMessage[] = [];
    ws.on('unexpected-response', (_req, res) => ok({ messages, refused: res.statusCode }));
    ws.on('open', () => ws.send(JSON.stringify({ hello: opts.hello ?? shell.key })));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as WebShellMessage;
      messages.push(m);
      if ('welcome' in m) for (const c of opts.calls ?? []) ws.send(JSON.stringify(c));
      if (messages.filter((x) => 'id' in x).length === (opts.calls ?? []).length && 'welcome' in messages[0]!) ws.close(1000);
    });
    ws.on('close', (code) => ok({ messages, close: code }));
    ws.on('error', () => undefined);
  });
}

describe('web shell HTTP', () => {
  it('serves the renderer with a strict policy and headers', async () => {
    const res = await fetch(`${shell.origin}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    for (const part of ["default-src 'self'", "script-src 'self'", "img-src 'self' data: blob:", "connect-src 'self' ws: wss:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
      expect(csp).toContain(part);
    }
    expect(csp).not.toContain('unsafe');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await res.text()).toContain('<title>Porthole</title>');
    const js = await fetch(`${shell.origin}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('content-security-policy')).toBe(csp);
  });

  it('serves nothing outside the renderer and nothing to other host names', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt']) {
      const res = await fetch(`${shell.origin}${path}`);
      expect(res.status, path).toBe(404);
    }
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host header.
    const { request } = await import('node:http');
    const status = await new Promise<number>((ok) => {
      request({ host: '127.0.0.1', port: shell.port, path: '/', headers: { host: `evil.example:${shell.port}` } }, (res) => {
        res.resume();
        ok(res.statusCode!);
      }).end();
    });
    expect(status).toBe(421);
    expect((await fetch(`${shell.origin}/`, { method: 'POST' })).status).toBe(405);
  });
});

describe('web shell bridge', () => {
  it('answers our page holding the key: welcome, then calls', async () => {
    const { messages } = await bridge({
      calls: [
        { id: 1, method: 'getState', params: [] },
        { id: 2, method: 'me', params: [] },
        { id: 3, method: 'evil', params: [] },
      ],
    });
    expect(messages[0]).toEqual({ welcome: true });
    expect(messages).toContainEqual({ id: 1, result: { ok: true, value: { signedIn: false, agentUrl: 'http://127.0.0.1:7380' } } });
    expect(messages).toContainEqual({ id: 2, result: { ok: false, error: { code: 'signed_out', message: 'You are not signed in. Sign in to continue.' } } });
    const evil = messages.find((m) => 'id' in m && m.id === 3) as { result: { ok: boolean; error: { code: string } } };
    expect(evil.result.ok).toBe(false);
    expect(evil.result.error.code).toBe('bad_request');
  });

  it('closes the socket on a wrong key, before answering anything', async () => {
    const { messages, close } = await bridge({ hello: 'guessed', calls: [{ id: 1, method: 'getState', params: [] }] });
    expect(close).toBe(CLOSE_WRONG_KEY);
    expect(messages).toEqual([]);
  });

  it('closes the socket when a call comes before hello', async () => {
    const result = await new Promise<number>((ok) => {
      const ws = new WebSocket(`ws://127.0.0.1:${shell.port}${WEBSHELL_BRIDGE_PATH}`, { origin: shell.origin });
      ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'getState', params: [] })));
      ws.on('close', (code) => ok(code));
    });
    expect(result).toBe(CLOSE_WRONG_KEY);
  });

  it('refuses pages of another origin, even with the key', async () => {
    expect((await bridge({ origin: 'http://evil.example' })).refused).toBe(403);
    expect((await bridge({ origin: `http://127.0.0.1:${shell.port + 1}` })).refused).toBe(403);
    expect((await bridge({ origin: 'null' })).refused).toBe(403);
  });
});

/** The bundle a thin client runs (`npm run build` makes it; `npm test` builds before testing), under plain node. */
const BUNDLE = join(repoRoot, 'dist', 'webshell', 'porthole-webshell.mjs');
function startBundle(args: string[]): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: string[] }> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
  const child = spawn(process.execPath, [BUNDLE, ...args], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const match = /^webshell on (\S+)$/.exec(line);
      if (match) ok({ child, match, output });
    });
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    child.once('exit', (code) => fail(new Error(`the bundle exited (${code}):\n${output.join('\n')}`)));
  });
}

describe('web shell CLI', () => {
  it.each([
    ['from the sources (tsx)', () => startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--agent', '127.0.0.1:7380/'], /^webshell on (\S+)$/)],
    ['as the bundle a thin client runs (node, from another directory)', () => startBundle(['--listen', '127.0.0.1:0', '--agent', '127.0.0.1:7380/', '--profile-dir', join(dir.path, 'bundle-profiles')])],
  ])('%s: prints exactly its address with the key, serves the renderer, and pre-fills the agent address', async (_how, start) => {
    const cli = await start();
    try {
      const line = cli.output.find((l) => l.startsWith('webshell on '))!;
      expect(line).toMatch(/^webshell on http:\/\/127\.0\.0\.1:\d+\/#key=[A-Za-z0-9_-]{43}$/);
      const url = new URL(cli.match[1]!);
      const page = await fetch(new URL('/', url));
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<title>Porthole<\/title>/);
      const key = url.hash.slice('#key='.length);
      const state = await new Promise<unknown>((ok, fail) => {
        const ws = new WebSocket(`ws://${url.host}${WEBSHELL_BRIDGE_PATH}`, { origin: url.origin });
        ws.on('open', () => ws.send(JSON.stringify({ hello: key })));
        ws.on('message', (data) => {
          const m = JSON.parse(data.toString()) as WebShellMessage;
          if ('welcome' in m) ws.send(JSON.stringify({ id: 7, method: 'getState', params: [] }));
          if ('id' in m) {
            ok(m.result);
            ws.close();
          }
        });
        ws.on('error', fail);
      });
      // toMatchObject: the state also says why no keychain is used (the test runs without a Secret Service)
      expect(state).toMatchObject({ ok: true, value: { signedIn: false, agentUrl: 'http://127.0.0.1:7380' } });
    } finally {
      await stopProcess(cli.child);
    }
  });

  it('refuses to listen anywhere but loopback', async () => {
    await expect(startCli('main/webshell/cli.ts', ['--listen', '0.0.0.0:0'], /^webshell on/, 15_000)).rejects.toThrow(/loopback only/);
  });
});
