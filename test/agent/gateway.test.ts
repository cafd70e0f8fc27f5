/**
 * The gateway on its own: a desktop that cannot be reached, and the idle reaper stopping a real
 * desktop nobody watches.
 */
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { routes } from '../../cluster-agent/contract/index.js';
import { CLOSE_DESKTOP_UNREACHABLE, runVncGateway } from '../../cluster-agent/agent/gateway/vnc-gateway.js';
import { waitFor, tempDir } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { call, closeOf, openWs, startTestAgent, type TestAgent } from './support.js';

describe('gateway', () => {
  it('closes the viewer with a clear reason when the desktop is unreachable', async () => {
    const dir = tempDir('gw');
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => void runVncGateway(ws, Promise.resolve({ kind: 'unix', path: join(dir.path, 'gone.sock'), password: 'x' })));
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    try {
      const opened = await openWs(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`);
      expect(opened.kind).toBe('open');
      if (opened.kind !== 'open') return;
      const closed = await closeOf(opened.ws);
      expect(closed.code).toBe(CLOSE_DESKTOP_UNREACHABLE);
      expect(closed.reason).toMatch(/^The desktop is not reachable \(.*ENOENT.*\)/);
    } finally {
      wss.close();
      http.close();
      dir.remove();
    }
  });
});

describe('agent restart', () => {
  let first: TestAgent | undefined;
  let second: TestAgent | undefined;
  afterAll(async () => {
    await second?.cleanup();
    first?.dir.remove();
  });

  it('tells open viewers to reconnect, and the next agent adopts the running desktop with the same sign-in', async () => {
    first = await startTestAgent({ alice: { password: 'pw' } });
    const base = first.agent.url;
    const tokens = (await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'pw' } })).body;
    const { id } = (await call(base, 'POST', routes.sessions, { token: tokens.accessToken, json: { template: 'terminal' } })).body;
    await waitFor('Running', async () => (await call(base, 'GET', routes.session(id), { token: tokens.accessToken })).body.phase === 'Running' || undefined, 40_000);
    const viewer = await RfbClient.connect({ kind: 'ws', url: (await call(base, 'POST', routes.connect(id), { token: tokens.accessToken })).body.vnc.url });
    const closed = new Promise<string>((ok) => viewer.nextUpdate().catch((e: Error) => ok(e.message)));
    await first.agent.close();
    expect(await closed).toBe('WebSocket closed 1001 The agent is restarting; reconnect in a moment');

    second = await startTestAgent({}, { dir: first.dir });
    const base2 = second.agent.url;
    const adopted = await call(base2, 'GET', routes.session(id), { token: tokens.accessToken });
    expect(adopted.body).toMatchObject({ id, phase: 'Running' });
    const again = await RfbClient.connect({ kind: 'ws', url: (await call(base2, 'POST', routes.connect(id), { token: tokens.accessToken })).body.vnc.url });
    expect(again.init).toMatchObject({ width: 1280, height: 800 });
    again.close();
  });
});

describe('idle reaper', () => {
  let t: TestAgent | undefined;
  afterAll(async () => {
    await t?.cleanup();
  });

  it('stops a running desktop nobody has watched for --idle-timeout seconds, saying why', async () => {
    t = await startTestAgent({ alice: { password: 'pw' } }, { idleTimeoutOverride: 2, reaperIntervalMs: 500 });
    const base = t.agent.url;
    const token = (await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'pw' } })).body.accessToken;
    const { id } = (await call(base, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body;
    await waitFor('Running', async () => (await call(base, 'GET', routes.session(id), { token })).body.phase === 'Running' || undefined, 40_000);
    const stopped = await waitFor(
      'stopped as idle',
      async () => {
        const s = (await call(base, 'GET', routes.session(id), { token })).body;
        return s.phase === 'Stopped' ? s : undefined;
      },
      20_000,
    );
    expect(stopped.message).toBe('Idle: no client for 2 seconds');
  });
});
