/**
 * The agent's log as an operator reads it: no token, however a client spells the parameter, ends
 * up in a log line (the access log, or a plugin's own line about the URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { captureLogger, openWs, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
const log = captureLogger();
beforeAll(async () => {
  t = await startTestAgent({ alice: { password: 'alice-pw' } }, { logger: log.logger });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('access log', () => {
  it('redacts tokens after ?, &, ;, percent-encoded names and access_token, and in WebSocket lines', async () => {
    const base = t.agent.url;
    const urls = [
      `${routes.vnc('s-x')}?token=SECRET-A`,
      `${routes.vnc('s-x')};token=SECRET-B`,
      `${routes.vnc('s-x')}?x=1;token=SECRET-C`,
      `${routes.vnc('s-x')}?%74oken=SECRET-D`,
      `${routes.me}?access_token=SECRET-E`,
      `${routes.me}?x=1&token=SECRET-F`,
    ];
    for (const url of urls) await (await fetch(new URL(url, base))).text();
    // A WebSocket to a route that has no WebSocket handler: @fastify/websocket logs the URL itself.
    const ws = await openWs(`${base.replace('http:', 'ws:')}/healthz?token=SECRET-G`);
    if (ws.kind === 'open') await new Promise((ok) => ws.ws.once('close', ok));

    const logged = log.lines().filter((l) => l.msg === 'request').map((l) => l.url);
    for (const url of urls) expect(logged).toContain(url.replace(/SECRET-\w/, '[redacted]'));
    expect(log.text()).toContain('closed incoming websocket connection');
    expect(log.text()).not.toMatch(/SECRET-/);
  });
});
