/**
 * The web shell client against a real WebSocket server speaking the protocol in bridge/contract.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { LauncherEvent, WebShellRequest } from '../../bridge/contract.js';
import { splitKeyFromHash, shellSocketUrl } from '../../renderer/src/bridge/shellKey.js';
import { WebShellClient, type ShellLinkState, type SocketLike } from '../../renderer/src/bridge/webShellClient.js';

const KEY = 'secret-key';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface FakeShell {
  port: number;
  received: WebShellRequest[];
  server: WebSocketServer;
  sockets: Set<WebSocket>;
  close(): Promise<void>;
}

/** A tiny shell: checks the key, answers a few methods, can push events and drop clients. */
async function fakeShell(port = 0): Promise<FakeShell> {
  const server = new WebSocketServer({ host: '127.0.0.1', port, path: '/bridge' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const received: WebShellRequest[] = [];
  const sockets = new Set<WebSocket>();
  server.on('connection', (socket) => {
    let welcomed = false;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as WebShellRequest;
      received.push(message);
      if ('hello' in message) {
        if (message.hello !== KEY) return socket.close(4001, 'bad key');
        welcomed = true;
        return socket.send(JSON.stringify({ welcome: true }));
      }
      if (!welcomed) return socket.close(4001, 'hello first');
      const reply = (result: unknown) => socket.send(JSON.stringify({ id: message.id, result }));
      if (message.method === 'getState') reply({ ok: true, value: { signedIn: false, agentUrl: 'http://127.0.0.1:1' } });
      else if (message.method === 'signIn') reply({ ok: false, error: { code: 'unauthorized', message: 'The user name or password is wrong.' } });
      else if (message.method === 'startSession') reply({ ok: true, value: { echoed: message.params } });
      // 'connect' is never answered: the test drops the link under it
    });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : 0;
  const shell: FakeShell = {
    port: actualPort,
    received,
    server,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.terminate();
        server.close(() => resolve());
      }),
  };
  cleanups.push(() => shell.close());
  return shell;
}

/** key null: no key at all (a page opened without #key=...). */
function client(port: number, key: string | null = KEY) {
  const c = new WebShellClient({
    url: `ws://127.0.0.1:${port}/bridge`,
    key: key ?? undefined,
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    linkTimeoutMs: 3000,
  });
  const states: ShellLinkState['kind'][] = [];
  c.onLinkChange((s) => states.push(s.kind));
  c.start();
  cleanups.push(() => c.close());
  return { c, states };
}

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('web shell key and address', () => {
  it('takes the key out of the fragment and keeps the rest', () => {
    expect(splitKeyFromHash('#key=abc')).toEqual({ key: 'abc', rest: '' });
    expect(splitKeyFromHash('#key=a%2Bb&view=x')).toEqual({ key: 'a+b', rest: '#view=x' });
    expect(splitKeyFromHash('')).toEqual({ key: undefined, rest: '' });
    expect(splitKeyFromHash('#key=')).toEqual({ key: undefined, rest: '' });
  });
  it('uses wss under https', () => {
    expect(shellSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, '/bridge')).toBe('ws://127.0.0.1:8080/bridge');
    expect(shellSocketUrl({ protocol: 'https:', host: 'kiosk.local' }, '/bridge')).toBe('wss://kiosk.local/bridge');
  });
});

describe('WebShellClient', () => {
  it('says hello first, then calls methods with positional params and returns values', async () => {
    const shell = await fakeShell();
    const { c } = client(shell.port);
    await expect(c.getState()).resolves.toEqual({ signedIn: false, agentUrl: 'http://127.0.0.1:1' });
    await expect(c.startSession('terminal')).resolves.toEqual({ echoed: ['terminal'] });
    expect(shell.received[0]).toEqual({ hello: KEY });
    expect(shell.received[1]).toMatchObject({ method: 'getState', params: [] });
    expect(c.link.kind).toBe('connected');
  });

  it('rejects with the core sentence and code', async () => {
    const shell = await fakeShell();
    const { c } = client(shell.port);
    await expect(c.signIn({ agentUrl: 'x', username: 'alice', password: 'no' })).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'The user name or password is wrong.',
    });
  });

  it('delivers events to subscribers until they unsubscribe', async () => {
    const shell = await fakeShell();
    const { c } = client(shell.port);
    const seen: LauncherEvent[] = [];
    const off = c.onEvent((e) => seen.push(e));
    await c.getState();
    const event: LauncherEvent = { type: 'agent', reachable: false, message: 'The agent is down.' };
    for (const s of shell.sockets) s.send(JSON.stringify({ event }));
    await until(() => seen.length === 1);
    off();
    for (const s of shell.sockets) s.send(JSON.stringify({ event }));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([event]);
  });

  it('reports a refused key and does not hammer the shell', async () => {
    const shell = await fakeShell();
    const { c } = client(shell.port, 'wrong');
    await until(() => c.link.kind === 'rejected');
    await new Promise((r) => setTimeout(r, 700));
    expect(shell.received.filter((m) => 'hello' in m)).toHaveLength(1);
  });

  it('fails calls at once without a key, with a sentence that says what to do', async () => {
    const { c } = client(1, null);
    expect(c.link.kind).toBe('no-key');
    await expect(c.getState()).rejects.toThrow(/#key=/);
  });

  it('fails pending calls when the link drops, then reconnects by itself', async () => {
    const shell = await fakeShell();
    const { c, states } = client(shell.port);
    await c.getState();
    const pending = c.connect('s1');
    await until(() => shell.received.some((m) => 'method' in m && m.method === 'connect'));
    for (const s of shell.sockets) s.terminate();
    await expect(pending).rejects.toThrow(/dropped/);
    await until(() => c.link.kind === 'connected' && states.includes('retrying'));
    await expect(c.getState()).resolves.toMatchObject({ signedIn: false });
    expect(c.link.everConnected).toBe(true);
  });

  it('waits for a shell that starts late', async () => {
    // find a free port, then start the shell there after the client began retrying
    const probe = await fakeShell();
    const port = probe.port;
    await probe.close();
    const { c } = client(port);
    const state = c.getState();
    await until(() => c.link.kind === 'retrying');
    await fakeShell(port);
    await expect(state).resolves.toMatchObject({ agentUrl: 'http://127.0.0.1:1' });
  });
});
