/**
 * WebRTC on real parts: a sandboxed desktop with its streamer, the agent's signalling relay, and
 * Debian's Chromium receiving. The page puts one codec first and must get exactly that one; a still
 * desktop costs next to nothing and a moving one is decoded at its rate; typing and Ctrl+C arrive over
 * the DataChannel; bad tokens and bad frames are refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { SIGNAL_CLOSE } from '../../cluster-agent/contract/webrtc.js';
import { launchChromium } from '../support/browser.js';
import { tempDir, waitFor } from '../support/processes.js';
import { installReceiver, receiverStats, type ReceiverStats } from '../support/webrtc-page.js';
import { call, openWs, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
let token: string;
let sessionId: string;
let browser: BrowserContext;
let page: Page;
const profile = tempDir('webrtc-chromium');

async function webrtcUrl(): Promise<string> {
  const res = await call(t.agent.url, 'POST', routes.connect(sessionId), { token });
  expect(res.status).toBe(200);
  return res.body.webrtc.url as string;
}

async function receive(codec: string, extra: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(`window.receiver.stop()`);
  await page.evaluate(`window.receiver.start(${JSON.stringify(await webrtcUrl())}, ${JSON.stringify(codec)}, ${JSON.stringify(extra)})`);
}

async function decoding(min: number): Promise<ReceiverStats> {
  let last: ReceiverStats | undefined;
  try {
    return await waitFor(`${min} frames decoded`, async () => {
      last = await receiverStats(page);
      return (last.framesDecoded ?? 0) >= min ? last : undefined;
    }, 20_000, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the page saw ${JSON.stringify(last)}`);
  }
}

const home = (file: string) => join(t.dir.path, 'local', 'homes', 'alice', file);

beforeAll(async () => {
  // AV1 too, as `serve --streamer-codecs h264,vp9,vp8,av1` turns it on (it is not a default: docs/streaming.md).
  t = await startTestAgent({ alice: { password: 'pw' } }, { webrtc: { codecs: ['h264', 'vp9', 'vp8', 'av1'] } });
  token = (await call(t.agent.url, 'POST', routes.login, { json: { username: 'alice', password: 'pw' } })).body.accessToken;
  const templates = (await call(t.agent.url, 'GET', routes.templates, { token })).body.templates as Array<{ name: string; protocols: string[] }>;
  expect(templates.find((x) => x.name === 'terminal')?.protocols).toEqual(['webrtc', 'vnc']);
  sessionId = (await call(t.agent.url, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id;
  await waitFor('Running', async () => (await call(t.agent.url, 'GET', routes.session(sessionId), { token })).body.phase === 'Running' || undefined, 30_000);
  browser = await launchChromium(profile.path);
  // Without a media permission Chromium gathers no host candidates on loopback.
  await browser.grantPermissions(['camera', 'microphone'], { origin: t.agent.url });
  page = browser.pages()[0] ?? (await browser.newPage());
  await installReceiver(page, t.agent.url);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
  profile.remove();
});

describe('WebRTC streams from a sandboxed desktop', () => {
  it.each(['H264', 'VP8', 'VP9', 'AV1'])('sends %s when the page puts it first, and the page decodes the 1280x800 desktop', async (codec) => {
    await receive(codec);
    const s = await decoding(2);
    expect(s.codec).toBe(`video/${codec}`);
    expect(s).toMatchObject({ state: 'connected', width: 1280, height: 800, packetsLost: 0 });
    expect(s.path).toMatch(/^host->(host|prflx)$/); // loopback both ways (prflx: seen before its trickle candidate)
    // The streamer says what it sends, and draws the cursor on the page's side.
    expect(s.messages).toEqual(expect.arrayContaining(['screen', 'cursor', 'encoder']));
  });

  it('skips a format it cannot send (H.264 only as High profile or one NAL unit per packet) for the next in the page\'s order', async () => {
    await page.evaluate(`window.receiver.stop()`);
    // H.264 first but none of it constrained baseline with FU-A, then VP9: the streamer takes VP9.
    await page.evaluate(`(async () => {
      const url = ${JSON.stringify(await webrtcUrl())};
      const orig = RTCRtpTransceiver.prototype.setCodecPreferences;
      RTCRtpTransceiver.prototype.setCodecPreferences = function (codecs) {
        const unsendable = (c) => c.mimeType === 'video/H264' && (/packetization-mode=0|profile-level-id=64/.test(c.sdpFmtpLine ?? '') || !/packetization-mode/.test(c.sdpFmtpLine ?? ''));
        return orig.call(this, [...codecs.filter(unsendable), ...codecs.filter((c) => c.mimeType === 'video/VP9')]);
      };
      await window.receiver.start(url, 'H264');
      RTCRtpTransceiver.prototype.setCodecPreferences = orig;
    })()`);
    expect((await decoding(2)).codec).toBe('video/VP9');
  });

  it('costs next to nothing while the desktop is still, and follows motion at its rate', async () => {
    await receive('H264');
    await decoding(2);
    await new Promise((r) => setTimeout(r, 1500));
    const a = await receiverStats(page);
    await new Promise((r) => setTimeout(r, 3000));
    const b = await receiverStats(page);
    const stillFps = ((b.framesDecoded ?? 0) - (a.framesDecoded ?? 0)) / 3;
    const stillKbps = (((b.bytesReceived ?? 0) - (a.bytesReceived ?? 0)) * 8) / 3000;
    expect(stillFps).toBeLessThanOrEqual(2); // one heartbeat frame a second
    expect(stillKbps).toBeLessThan(40);

    // A terminal that scrolls as fast as it can: the desktop changes all the time.
    await page.evaluate(`window.receiver.keys('for i in $(seq 400); do seq 1 60; sleep 0.02; done\\n')`);
    await new Promise((r) => setTimeout(r, 1500));
    const c = await receiverStats(page);
    await new Promise((r) => setTimeout(r, 3000));
    const d = await receiverStats(page);
    const movingFps = ((d.framesDecoded ?? 0) - (c.framesDecoded ?? 0)) / 3;
    expect(movingFps).toBeGreaterThan(15);
    await page.evaluate(`window.receiver.send({ t: 'k', keysym: 0xffe3, down: true }); window.receiver.send({ t: 'k', keysym: 0x63, down: true }); window.receiver.send({ t: 'k', keysym: 0x63, down: false }); window.receiver.send({ t: 'k', keysym: 0xffe3, down: false })`);
    await new Promise((r) => setTimeout(r, 500)); // Ctrl+C arrives before this viewer goes
  });

  it('types into the desktop over the DataChannel, and Ctrl+C reaches the program', async () => {
    await receive('H264');
    await decoding(1);
    await page.evaluate(`window.receiver.keys('touch ~/typed-over-webrtc\\n')`);
    await waitFor('the file typed over WebRTC', () => existsSync(home('typed-over-webrtc')) || undefined, 10_000);
    const sleeping = () => spawnSync('pgrep', ['-f', '^sleep 617$']).status === 0;
    await page.evaluate(`window.receiver.keys('sleep 617\\n')`);
    await waitFor('the remote sleep', () => sleeping() || undefined, 10_000);
    await page.evaluate(`window.receiver.send({ t: 'k', keysym: 0xffe3, down: true }); window.receiver.send({ t: 'k', keysym: 0x63, down: true }); window.receiver.send({ t: 'k', keysym: 0x63, down: false }); window.receiver.send({ t: 'k', keysym: 0xffe3, down: false })`);
    await waitFor('Ctrl+C to end the remote sleep', () => !sleeping() || undefined, 10_000);
    // A character no US layout has: the streamer borrows a keycode for it.
    await page.evaluate(`window.receiver.keys('touch ~/caf\\u00e9\\n')`);
    await waitFor('é typed on a US layout', () => existsSync(home('café')) || undefined, 10_000);
  });

  it('refuses forged and reused tokens before the upgrade, and closes on a frame that is not signalling', async () => {
    const forged = await openWs(`${t.agent.url.replace('http', 'ws')}${routes.webrtc(sessionId)}?token=forged`);
    expect(forged).toMatchObject({ kind: 'http', status: 401 });
    const url = await webrtcUrl();
    const first = await openWs(url);
    expect(first.kind).toBe('open');
    const reused = await openWs(url);
    expect(reused).toMatchObject({ kind: 'http', status: 401 });
    if (first.kind === 'open') {
      const closed = new Promise<{ code: number }>((r) => first.ws.once('close', (code) => r({ code })));
      first.ws.send(JSON.stringify({ type: 'hello', iceServers: [], viewer: 'mallory' })); // only the agent may say hello
      expect((await closed).code).toBe(SIGNAL_CLOSE.badMessage);
      expect(JSON.parse(first.texts[0]!)).toMatchObject({ type: 'error', code: 'bad_message' });
    }
  });

  it('counts a WebRTC viewer as connected while its signalling is open', async () => {
    await receive('H264');
    await decoding(1);
    await waitFor('one client', async () => (await call(t.agent.url, 'GET', routes.session(sessionId), { token })).body.connectedClients >= 1 || undefined, 5_000);
    expect((await receiverStats(page)).errors).toEqual([]);
    await page.evaluate(`window.receiver.stop()`);
    await waitFor('no client', async () => (await call(t.agent.url, 'GET', routes.session(sessionId), { token })).body.connectedClients === 0 || undefined, 5_000);
  });
});
