/**
 * Requests a browser or the launcher would never send, over raw sockets: bad or missing Host
 * headers, plain GETs on stream URLs, and what the HTTP layer itself refuses. Every answer is the
 * contract's `{error:{code,message}}` with a sentence, never a 500 or a bare status line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { waitFor } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { rawRequest } from './raw-http.js';
import { call, closeOf, openWs, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
let base: string;
let token: string;
let sessionId: string;

beforeAll(async () => {
  t = await startTestAgent({ alice: { password: 'alice-pw' } });
  base = t.agent.url;
  token = (await call(base, 'POST', routes.login, { json: { username: 'alice', password: 'alice-pw' } })).body.accessToken;
  sessionId = (await call(base, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id;
  await waitFor('session Running', async () => (await call(base, 'GET', routes.session(sessionId), { token })).body.phase === 'Running' || undefined, 40_000);
});
afterAll(async () => {
  await t?.cleanup();
});

const connectRequest = (version: '1.0' | '1.1', hostLine: string | undefined) =>
  `POST ${routes.connect(sessionId)} HTTP/${version}\r\n${hostLine === undefined ? '' : `Host: ${hostLine}\r\n`}Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n`;

describe('connect with a Host header that cannot be a URL host', () => {
  for (const host of ['a b', '[::', 'evil.example/x?', 'user@evil.example', 'host:99999']) {
    it(`answers 400 bad_request naming --public-url for Host ${JSON.stringify(host)}`, async () => {
      const { response } = await rawRequest(base, connectRequest('1.1', host));
      expect(response?.status).toBe(400);
      expect(response?.body).toEqual({
        error: {
          code: 'bad_request',
          message: `The request's Host header ${JSON.stringify(host)} is not a valid host[:port], so the stream URLs cannot be built from it; send the address you reached the agent at as Host, or start the agent with --public-url URL`,
        },
      });
    });
  }

  it('answers 400 for HTTP/1.0 without a Host header, saying so', async () => {
    const { response } = await rawRequest(base, connectRequest('1.0', undefined));
    expect(response?.status).toBe(400);
    expect(response?.body.error.code).toBe('bad_request');
    expect(response?.body.error.message).toMatch(/^The request has no Host header, .*--public-url/);
  });

  it('builds the URLs from a good Host header as sent, including [IPv6]:port', async () => {
    const { response } = await rawRequest(base, connectRequest('1.0', '[::1]:7380'));
    expect(response?.status).toBe(200);
    expect(response?.body.vnc.url).toMatch(new RegExp(`^ws://\\[::1\\]:7380${routes.vnc(sessionId)}\\?token=`));
  });

  it('with --public-url, ignores the Host header altogether', async () => {
    // deps are read per request: this is what `serve --public-url` sets up.
    t.agent.deps.publicUrl = 'https://desktops.example.org/porthole';
    try {
      const { response } = await rawRequest(base, connectRequest('1.0', 'a b'));
      expect(response?.status).toBe(200);
      expect(response?.body.vnc.url).toMatch(new RegExp(`^wss://desktops\\.example\\.org/porthole${routes.vnc(sessionId)}\\?token=`));
    } finally {
      delete t.agent.deps.publicUrl;
    }
  });
});

describe('a plain GET on a stream URL', () => {
  for (const kind of ['vnc', 'webrtc'] as const) {
    it(`/${kind}: 426 "open this URL as a WebSocket", and the token still opens the stream afterwards`, async () => {
      const connect = (await call(base, 'POST', routes.connect(sessionId), { token })).body;
      const url = new URL(connect[kind].url.replace(/^ws/, 'http'));
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(url, { method });
        expect(res.status, method).toBe(426);
        expect(res.headers.get('upgrade'), method).toBe('websocket');
        if (method === 'GET') {
          expect(await res.json()).toEqual({
            error: { code: 'bad_request', message: 'This is a stream URL: open it as a WebSocket (Connection: Upgrade, Upgrade: websocket); the token in it has not been used' },
          });
        }
      }
      if (kind === 'vnc') {
        const viewer = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
        expect(viewer.init).toMatchObject({ width: 1280, height: 800 });
        viewer.close();
      } else {
        const opened = await openWs(connect.webrtc.url);
        expect(opened.kind).toBe('open');
        if (opened.kind === 'open') expect((await closeOf(opened.ws)).code).toBe(4501);
      }
    });
  }
});

describe('a WebSocket handshake that ws would refuse, on a stream URL', () => {
  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
  const upgrade = (path: string, headers: Record<string, string>) =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;

  it('answers in the contract shape before the token is looked at, and the token still opens the stream', async () => {
    const connect = (await call(base, 'POST', routes.connect(sessionId), { token })).body;
    const path = new URL(connect.vnc.url).pathname + new URL(connect.vnc.url).search;
    const notUsed = 'the token in it has not been used';
    const cases: [Record<string, string>, number, string, Record<string, string>?][] = [
      [{ Upgrade: 'h2c', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY }, 426, `This is a stream URL: open it as a WebSocket (Connection: Upgrade, Upgrade: websocket); ${notUsed}`, { upgrade: 'websocket' }],
      [{ Upgrade: 'websocket', 'Sec-WebSocket-Version': '99', 'Sec-WebSocket-Key': KEY }, 426, `Only WebSocket version 13 is spoken here (Sec-WebSocket-Version: 13); ${notUsed}`, { 'sec-websocket-version': '13' }],
      [{ Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' }, 400, `The WebSocket handshake has no valid Sec-WebSocket-Key (16 bytes, base64); ${notUsed}`],
      [{ Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Protocol': 'binary, binary' }, 400, `Sec-WebSocket-Protocol must be a comma-separated list of distinct protocol names; ${notUsed}`],
    ];
    for (const [headers, status, message, expectHeaders] of cases) {
      const { response } = await rawRequest(base, upgrade(path, headers));
      expect(response?.status, JSON.stringify(headers)).toBe(status);
      expect(response?.body, JSON.stringify(headers)).toEqual({ error: { code: 'bad_request', message } });
      for (const [k, v] of Object.entries(expectHeaders ?? {})) expect(response?.headers[k]).toBe(v);
    }
    const viewer = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
    expect(viewer.init).toMatchObject({ width: 1280, height: 800 });
    viewer.close();
  });
});

describe('what the HTTP layer refuses before any route runs', () => {
  const shaped = (r: { response?: { status: number; body: unknown } }, status: number, code: string, message: string | RegExp) => {
    expect(r.response?.status).toBe(status);
    expect(r.response?.body).toEqual({ error: { code, message: typeof message === 'string' ? message : expect.stringMatching(message) } });
  };

  it('400 for a malformed header line and an unknown method (Node parser errors)', async () => {
    const header = await rawRequest(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    shaped(header, 400, 'bad_request', 'The request is not valid HTTP/1.1 (Invalid header token); check the request line and headers');
    expect(header.closed).toBe(true);
    const method = await rawRequest(base, 'FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    shaped(method, 400, 'bad_request', /^The request is not valid HTTP\/1\.1 \(Invalid method encountered\)/);
  });

  it('400 for HTTP/1.1 without a Host header', async () => {
    shaped(await rawRequest(base, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, 'bad_request', 'HTTP/1.1 requests must have a Host header; send the address you reached the agent at');
  });

  it('400 for a malformed percent-encoding in the path', async () => {
    const r = await rawRequest(base, `GET ${routes.session('x')}%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    shaped(r, 400, 'bad_request', 'The URL is not valid: it has a malformed percent-encoding (% must be followed by two hex digits)');
  });

  it('414 for a path parameter longer than any session id', async () => {
    const r = await rawRequest(base, `GET ${routes.connect('s'.repeat(150))} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    shaped(r, 414, 'bad_request', 'A part of the URL path is longer than 100 characters; no session id or name is that long');
  });

  it('431 for headers, or a URL, over 16 KiB', async () => {
    const message = 'The request line and headers are larger than 16 KiB; send a shorter URL or fewer and smaller headers';
    shaped(await rawRequest(base, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, 'bad_request', message);
    shaped(await rawRequest(base, `GET /healthz?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431, 'bad_request', message);
  });

  it('404 for an unknown route, 405 with Allow for a known path with the wrong method', async () => {
    shaped(await rawRequest(base, 'GET /api/v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 404, 'not_found', 'No such API route: GET /api/v1/nowhere');
    const wrong = await rawRequest(base, `PUT ${routes.sessions} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    shaped(wrong, 405, 'bad_request', `PUT is not allowed on ${routes.sessions}; use GET, HEAD, POST`);
    expect(wrong.response?.headers.allow).toBe('GET, HEAD, POST');
    const withParam = await rawRequest(base, `PATCH ${routes.session('abc')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    shaped(withParam, 405, 'bad_request', `PATCH is not allowed on ${routes.session('abc')}; use DELETE, GET, HEAD`);
  });

  it('417 for an Expect other than 100-continue, 405 for CONNECT (Node answers both without a body)', async () => {
    const expectation = await rawRequest(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: a-pony\r\nConnection: close\r\n\r\n');
    shaped(expectation, 417, 'bad_request', 'Only "Expect: 100-continue" is understood here; send the request without that Expect header');
    const connect = await rawRequest(base, 'CONNECT desktop.example:5901 HTTP/1.1\r\nHost: desktop.example:5901\r\n\r\n');
    shaped(connect, 405, 'bad_request', 'CONNECT is not supported: the agent is not a proxy');
    expect(connect.closed).toBe(true);
  });

  it('lists these answers in the OpenAPI document where they apply', async () => {
    const doc = await (await fetch(`${base}${routes.openapi}`)).json();
    const codes = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(codes('/api/v1/sessions/{id}/vnc', 'get')).toEqual(expect.arrayContaining(['101', '401', '408', '414', '426', '431']));
    expect(codes('/api/v1/sessions/{id}/connect', 'post')).toEqual(expect.arrayContaining(['400', '408', '413', '414', '415', '431', '503']));
    expect(codes(routes.login, 'post')).toEqual(expect.arrayContaining(['408', '413', '415', '429', '431', '503']));
    expect(codes('/healthz', 'get')).toEqual(expect.arrayContaining(['408', '431']));
  });
});
