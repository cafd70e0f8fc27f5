/**
 * A slow or hostile client cannot hold the agent's sockets: a body that never finishes, headers
 * dribbled a line at a time, a connection that says nothing, an idle keep-alive connection, more
 * connections than the cap. The timeouts are made small through AgentOptions.httpLimits; a real
 * VNC stream through the same agent outlives all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { waitFor } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { rawExchange, rawRequest } from './raw-http.js';
import { call, startTestAgent, type TestAgent } from './support.js';

const HEADERS_MS = 400;
const REQUEST_MS = 800;
const KEEP_ALIVE_MS = 400;
/** longer than the request timeout, so the 408 (not the idle cut, which just closes) answers a slow body */
const IDLE_MS = 1_500;
/** Node checks the header and request timeouts every quarter of the smaller one; plus scheduling. */
const SLACK_MS = 700;

const timeout408 = {
  error: {
    code: 'bad_request',
    message: `The request did not arrive in time (headers within ${HEADERS_MS / 1000} s, the whole request within ${REQUEST_MS / 1000} s); send it again in one go`,
  },
};

let t: TestAgent;
let base: string;
beforeAll(async () => {
  t = await startTestAgent(
    { alice: { password: 'alice-pw' } },
    { httpLimits: { headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS, keepAliveTimeoutMs: KEEP_ALIVE_MS, idleTimeoutMs: IDLE_MS } },
  );
  base = t.agent.url;
});
afterAll(async () => {
  await t?.cleanup();
});

describe('slow clients', () => {
  it('a body that never finishes: 408 in the contract shape and the connection closed, within the request timeout', async () => {
    const r = await rawExchange(base, (s) => {
      s.write(`POST ${routes.login} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":"al`);
    });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(r.ms).toBeLessThan(REQUEST_MS + SLACK_MS);
    expect(r.response?.status).toBe(408);
    expect(r.response?.body).toEqual(timeout408);
  });

  it('headers dribbled one line every 100 ms (slowloris): 408 and closed within the headers timeout', async () => {
    const r = await rawExchange(base, (s) => {
      s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n`);
      let n = 0;
      const timer = setInterval(() => (s.writable ? s.write(`X-Dribble-${n++}: y\r\n`) : clearInterval(timer)), 100);
      s.once('close', () => clearInterval(timer));
    });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(r.ms).toBeLessThan(HEADERS_MS + SLACK_MS);
    expect(r.response?.status).toBe(408);
    expect(r.response?.body).toEqual(timeout408);
  });

  it('a connection that sends nothing is closed within the headers timeout', async () => {
    const r = await rawExchange(base, () => undefined);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(HEADERS_MS + SLACK_MS);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const r = await rawExchange(base, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(r.response?.status).toBe(200);
    expect(r.response?.headers['keep-alive']).toBe(`timeout=${Math.floor(KEEP_ALIVE_MS / 1000)}, max=1000`);
    expect(r.closed).toBe(true);
    // Node keeps the socket a second longer than it announces, so a client never reuses a dying one.
    expect(r.ms).toBeLessThan(KEEP_ALIVE_MS + 1_000 + SLACK_MS);
  });

  it('a VNC stream stays open and working well past every one of those timeouts', async () => {
    const token = (await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'alice-pw' } })).body.accessToken;
    const { id } = (await call(base, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body;
    await waitFor('Running', async () => (await call(base, 'GET', routes.session(id), { token })).body.phase === 'Running' || undefined, 40_000);
    const viewer = await RfbClient.connect({ kind: 'ws', url: (await call(base, 'POST', routes.connect(id), { token })).body.vnc.url });
    try {
      // Nothing crosses the stream meanwhile: no update is asked for.
      await new Promise((r) => setTimeout(r, 3 * Math.max(HEADERS_MS, REQUEST_MS, KEEP_ALIVE_MS, IDLE_MS)));
      viewer.requestUpdate(false);
      expect((await viewer.nextUpdate()).bytes).toBeGreaterThan(0);
    } finally {
      viewer.close();
    }
  });
});

describe('connection cap', () => {
  let capped: TestAgent | undefined;
  afterAll(async () => {
    await capped?.cleanup();
  });

  it('closes connections beyond maxConnections at once, and serves the ones within it', async () => {
    capped = await startTestAgent({}, { httpLimits: { maxConnections: 2, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000 } });
    const url = capped.agent.url;
    // Two connections that hold their slots (headers not finished yet)...
    const holders = [0, 1].map(() =>
      rawExchange(url, (s) => {
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
        setTimeout(() => s.write('Connection: close\r\n\r\n'), 1_000);
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    // ...so a third is refused straight away, without an answer.
    const third = await rawRequest(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3_000);
    expect(third.closed).toBe(true);
    expect(third.ms).toBeLessThan(500);
    expect(third.raw).toBe('');
    for (const h of await Promise.all(holders)) expect(h.response?.status).toBe(200);
    // and once they are gone there is room again
    expect((await rawRequest(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).response?.status).toBe(200);
  });
});

describe('shutting down', () => {
  it('a request that arrives while the agent closes gets 503 not_ready in the contract shape', async () => {
    const closing = await startTestAgent({});
    try {
      const r = rawExchange(closing.agent.url, (s) => {
        s.write(`GET ${routes.me} HTTP/1.1\r\nHost: x\r\n`);
        // the rest arrives after close() has begun (the connection is busy, so it is not cut as idle)
        setTimeout(() => s.write('\r\n'), 300);
      });
      await new Promise((ok) => setTimeout(ok, 100));
      const closed = closing.agent.close();
      const { response } = await r;
      expect(response?.status).toBe(503);
      expect(response?.headers.connection).toBe('close');
      expect(response?.body).toEqual({ error: { code: 'not_ready', message: 'The agent is shutting down; try again in a moment' } });
      await closed;
    } finally {
      closing.dir.remove();
    }
  });
});
