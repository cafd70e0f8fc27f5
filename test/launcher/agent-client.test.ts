/**
 * The agent client against servers that are not a healthy Porthole agent: a closed port, a web
 * server, a failing proxy, a rate limiter, a server that never answers. All real sockets on 127.0.0.1.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createAgentClient } from '../../main/core/agent-client.js';
import { PortholeError } from '../../bridge/contract.js';
import { failure } from '../support/porthole-error.js';

const servers: Server[] = [];

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port that was just free: nothing listens there. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return `http://127.0.0.1:${port}`;
}

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }
});

describe('agent client: what goes wrong, said plainly', () => {
  it('an agent that does not run: connection refused', async () => {
    const url = await closedPort();
    const e = await failure(createAgentClient(url).login('alice', 'pw'));
    expect(e.code).toBe('agent_unreachable');
    expect(e.message).toBe(`Porthole cannot reach the agent at ${url}: connection refused. Check the address or whether the agent runs.`);
  });

  it('an address that is not one', async () => {
    expect(() => createAgentClient('gopher://agent')).toThrow(PortholeError);
    expect(() => createAgentClient('gopher://agent')).toThrow(/is not an agent address/);
  });

  it('a web server that is not Porthole', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>It works!</body></html>');
    });
    const e = await failure(createAgentClient(url).login('alice', 'pw'));
    expect(e.code).toBe('not_porthole');
    expect(e.message).toMatch(/answered, but not as a Porthole agent .*Check the address\.$/);

    const notFound = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    expect((await failure(createAgentClient(notFound).login('alice', 'pw'))).code).toBe('not_porthole');
  });

  it('a JSON server of another shape: versions do not match', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'x' }));
    });
    const e = await failure(createAgentClient(url).login('alice', 'pw'));
    expect(e.code).toBe('incompatible_agent');
    expect(e.message).toMatch(/POST \/api\/v1\/auth\/login: accessToken/);
  });

  it('5xx from the agent or a proxy in front of it', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<h1>Bad Gateway</h1>');
    });
    const e = await failure(createAgentClient(url).me('token'));
    expect(e.code).toBe('agent_error');
    expect(e.message).toBe(`The agent at ${url} failed (HTTP 502). Try again in a moment; if it keeps failing, check the agent's log.`);
  });

  it('429 with Retry-After', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' });
      res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'Too many sign-in attempts' } }));
    });
    const e = await failure(createAgentClient(url).login('alice', 'pw'));
    expect(e.code).toBe('rate_limited');
    expect(e.message).toMatch(/Wait 30 s and try again\.$/);
  });

  it('a redirect: use the real address', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(301, { location: 'https://elsewhere.example/' });
      res.end();
    });
    const e = await failure(createAgentClient(url).login('alice', 'pw'));
    expect(e.code).toBe('invalid_agent_url');
    expect(e.message).toMatch(/redirects to https:\/\/elsewhere.example\//);
  });

  it('a server that never answers: timeout', async () => {
    const url = await serve(() => undefined);
    const e = await failure(createAgentClient(url, { timeoutMs: 300 }).login('alice', 'pw'));
    expect(e.code).toBe('agent_unreachable');
    expect(e.message).toMatch(/: no answer within 300 ms\. Check the address or whether the agent runs\.$/);
  });
});
