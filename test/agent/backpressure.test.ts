/**
 * Backpressure through the gateway, both directions. The desktop here is a tiny RFB server written
 * in this test (real VncAuth via our DES, over a real Unix socket), because a real Xvnc cannot be
 * made to flood or to stop reading on demand. Everything else is the real gateway and real sockets.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { runVncGateway } from '../../cluster-agent/agent/gateway/vnc-gateway.js';
import { vncAuthResponse } from '../../cluster-agent/vnc/des.js';
import { tempDir } from '../support/processes.js';

const PASSWORD = 'flood-pw';
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RFB 3.8 VncAuth handshake as a server, then hands the socket over. */
function fakeDesktop(path: string, after: (s: Socket) => void): Promise<Server> {
  const server = createNetServer((sock) => {
    let buf = Buffer.alloc(0);
    let step = 0;
    const challenge = Buffer.alloc(16, 7);
    sock.write('RFB 003.008\n');
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (step === 0 && buf.length >= 12) {
          buf = buf.subarray(12);
          sock.write(Buffer.from([1, 2]));
          step = 1;
        } else if (step === 1 && buf.length >= 1) {
          buf = buf.subarray(1);
          sock.write(challenge);
          step = 2;
        } else if (step === 2 && buf.length >= 16) {
          const ok = buf.subarray(0, 16).equals(vncAuthResponse(PASSWORD, challenge));
          buf = buf.subarray(16);
          sock.write(Buffer.from([0, 0, 0, ok ? 0 : 1]));
          step = 3;
        } else if (step === 3 && buf.length >= 1) {
          sock.off('data', onData); // ClientInit received: the relay phase starts
          after(sock);
          return;
        } else return;
      }
    };
    sock.on('data', onData);
    sock.on('error', () => undefined);
  });
  return new Promise((ok) => server.listen(path, () => ok(server)));
}

/** Viewer side of the handshake over the gateway (security None), then ClientInit. */
async function viewer(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.binaryType = 'nodebuffer';
  let got = Buffer.alloc(0);
  await new Promise<void>((ok, fail) => {
    ws.on('error', fail);
    const onMessage = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length === 12) ws.send(Buffer.from('RFB 003.008\n'));
      if (got.length === 14) ws.send(Buffer.from([1]));
      if (got.length === 18) {
        ws.off('message', onMessage);
        ws.send(Buffer.from([1])); // ClientInit
        ok();
      }
    };
    ws.on('message', onMessage);
  });
  return ws;
}

describe('gateway backpressure', () => {
  let dir: ReturnType<typeof tempDir>;
  let cleanups: (() => void)[];
  beforeEach(() => {
    dir = tempDir('gw-bp');
    cleanups = [];
  });
  afterEach(() => {
    for (const c of cleanups.reverse()) c();
    dir.remove();
  });

  async function gateway(sockPath: string): Promise<string> {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => void runVncGateway(ws, Promise.resolve({ kind: 'unix', path: sockPath, password: PASSWORD })));
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    cleanups.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      http.close();
    });
    return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  }

  it('a viewer that stops reading stops the desktop from sending, and it resumes afterwards', async () => {
    const sockPath = join(dir.path, 'd.sock');
    let written = 0;
    const chunk = Buffer.alloc(256 * 1024, 1);
    const server = await fakeDesktop(sockPath, (sock) => {
      const pump = () => {
        while (sock.writable) {
          written += chunk.length;
          if (!sock.write(chunk)) return void sock.once('drain', pump);
        }
      };
      pump();
    });
    cleanups.push(() => server.close());
    const ws = await viewer(await gateway(sockPath));
    cleanups.push(() => ws.terminate());
    ws.pause(); // the viewer is busy: reads nothing
    await sleep(1500);
    const whilePaused = written;
    await sleep(500);
    // Without backpressure the agent would read the desktop as fast as it writes (gigabytes).
    expect(written - whilePaused).toBe(0);
    expect(whilePaused).toBeLessThan(40 * MB);

    let received = 0;
    ws.on('message', (d: Buffer) => (received += d.length));
    ws.resume();
    await sleep(1000);
    expect(received).toBeGreaterThan(0);
    expect(written).toBeGreaterThan(whilePaused);
  });

  it('a desktop that stops reading pauses the viewer\'s socket instead of buffering in the agent', async () => {
    const sockPath = join(dir.path, 'd2.sock');
    let desktopSock: Socket | undefined;
    const server = await fakeDesktop(sockPath, (sock) => {
      desktopSock = sock;
      sock.pause(); // the desktop is stuck: reads nothing
    });
    cleanups.push(() => server.close());
    const ws = await viewer(await gateway(sockPath));
    cleanups.push(() => ws.terminate());
    const chunk = Buffer.alloc(256 * 1024, 2);
    let sent = 0;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      if (ws.bufferedAmount < 8 * MB) {
        ws.send(chunk);
        sent += chunk.length;
      }
      await sleep(5);
    }
    const accepted = sent - ws.bufferedAmount;
    // What left the viewer sits in kernel buffers and one paused read, not in the agent's memory.
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(40 * MB);

    let drained = 0;
    desktopSock!.on('data', (d: Buffer) => (drained += d.length));
    desktopSock!.resume();
    await sleep(1500);
    expect(drained).toBeGreaterThan(accepted / 2);
  });
});
