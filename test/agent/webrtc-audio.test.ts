/**
 * The desktop's sound over WebRTC, on real parts: a sandboxed desktop with its sound server (PulseAudio,
 * a null sink) and streamer, the agent's relay, Debian's Chromium receiving. A program in the desktop
 * plays a tone; the page hears it as Opus only once it turns sound on, and while sound is off no audio
 * packet arrives and no capture process runs. A sound server that dies is started again and the sound
 * comes back by itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { launchChromium } from '../support/browser.js';
import { tempDir, waitFor } from '../support/processes.js';
import { installReceiver, receiverStats, type ReceiverStats } from '../support/webrtc-page.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
let token: string;
let sessionId: string;
let browser: BrowserContext;
let page: Page;
const profile = tempDir('webrtc-audio-chromium');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function webrtcUrl(): Promise<string> {
  const res = await call(t.agent.url, 'POST', routes.connect(sessionId), { token });
  expect(res.status).toBe(200);
  return res.body.webrtc.url as string;
}

async function receive(extra: Record<string, unknown> = { audio: true }): Promise<ReceiverStats> {
  await page.evaluate(`window.receiver.stop()`);
  await page.evaluate(`window.receiver.start(${JSON.stringify(await webrtcUrl())}, 'H264', ${JSON.stringify(extra)})`);
  let last: ReceiverStats | undefined;
  try {
    return await waitFor('the picture and the audio state', async () => {
      last = await receiverStats(page);
      return (last.framesDecoded ?? 0) >= 1 && last.audioStates.length > 0 ? last : undefined;
    }, 20_000, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the page saw ${JSON.stringify(last)}; the streamer logged:\n${streamerLog()}`);
  }
}

const stats = () => receiverStats(page);
/** The streamer's last lines, for a failure's message: what it did with the offer. */
const streamerLog = () => readFileSync(join(record().runDir, 'streamer.log'), 'utf8').split('\n').slice(-25).join('\n');

/** The session's record in the runtime's state file: its run dir and each role's sandbox. */
function record(): { runDir: string; processes: Record<string, { pid: number; pidNs?: string }> } {
  const state = JSON.parse(readFileSync(join(t.dir.path, 'local', 'local-sessions.json'), 'utf8')) as { sessions: Array<{ session: { id: string }; runDir: string; processes: Record<string, { pid: number; pidNs?: string }> }> };
  return state.sessions.find((s) => s.session.id === sessionId)!;
}

function pidNs(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Processes in the role's sandbox (its pid namespace) running `program`, with `arg` among their arguments if given. */
function inSandbox(role: string, program: string, arg?: string): number[] {
  const ns = record().processes[role]?.pidNs;
  if (!ns) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.split('/').at(-1) === program && (!arg || cmdline.includes(arg)) && pidNs(Number(entry)) === ns) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

const captures = () => inSandbox('streamer', 'gst-launch-1.0', 'pulsesrc');
/** The session's sound server, as the agent's machine reaches it (pactl runs here, not in the sandbox). */
const pactl = (...args: string[]) => execFileSync('pactl', ['--server', `unix:${join(record().runDir, 'audio', 'pulse.sock')}`, ...args], { encoding: 'utf8', timeout: 5_000 });
const type = (text: string) => page.evaluate(`window.receiver.keys(${JSON.stringify(text)})`);

async function hearing(what: string, since?: ReceiverStats): Promise<ReceiverStats> {
  let last: ReceiverStats | undefined;
  try {
    return await waitFor(what, async () => {
      last = await stats();
      const packets = (last.audioPackets ?? 0) - (since?.audioPackets ?? 0);
      const energy = (last.audioEnergy ?? 0) - (since?.audioEnergy ?? 0);
      return packets > 50 && energy > 0.05 && (last.audioLevel ?? 0) > 0.02 ? last : undefined;
    }, 20_000, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the page saw ${JSON.stringify(last)}; the streamer logged:\n${streamerLog()}`);
  }
}

beforeAll(async () => {
  t = await startTestAgent({ alice: { password: 'pw' } }, { webrtc: true });
  token = (await call(t.agent.url, 'POST', routes.login, { json: { username: 'alice', password: 'pw' } })).body.accessToken;
  sessionId = (await call(t.agent.url, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id;
  await waitFor('Running', async () => (await call(t.agent.url, 'GET', routes.session(sessionId), { token })).body.phase === 'Running' || undefined, 30_000);
  browser = await launchChromium(profile.path);
  await browser.grantPermissions(['camera', 'microphone'], { origin: t.agent.url });
  page = browser.pages()[0] ?? (await browser.newPage());
  await installReceiver(page, t.agent.url);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
  profile.remove();
});

describe('the desktop\'s sound over WebRTC', () => {
  it('runs a sound server of the session\'s own, in a sandbox of its own, with a null sink', () => {
    const rec = record();
    expect(rec.processes.audio?.pidNs).toBeDefined();
    expect(rec.processes.audio!.pidNs).not.toBe(rec.processes.desktop?.pidNs);
    expect(inSandbox('audio', 'pulseaudio').length).toBe(1);
    expect(pactl('list', 'short', 'sinks')).toMatch(/\bporthole\b/);
    // Nothing of the machine's: one sink, no hardware.
    expect(pactl('list', 'short', 'sinks').trim().split('\n')).toHaveLength(1);
    // Module loading is closed to clients (a desktop program cannot open a TCP port through it).
    expect(spawnSync('pactl', ['--server', `unix:${join(rec.runDir, 'audio', 'pulse.sock')}`, 'load-module', 'module-native-protocol-tcp'], { encoding: 'utf8' }).status).not.toBe(0);
  });

  it('sends nothing while sound is off, the desktop\'s tone as Opus once it is turned on, and stops again', async () => {
    const first = await receive();
    expect(first.audioStates[0]).toEqual({ t: 'audio', available: true, on: false });
    expect(first.audioDirection).toBe('recvonly');
    // A program in the desktop plays a tone: it reaches the session's sound server through PULSE_SERVER.
    await type('gst-launch-1.0 -q audiotestsrc is-live=true freq=440 volume=0.5 ! pulsesink client-name=tone &\n');
    await waitFor('the tone playing into the null sink', () => /tone|gst-launch|audiotestsrc|pulsesink/i.test(pactl('list', 'sink-inputs')) || undefined, 15_000, 200);

    // Off: no capture process and not one audio packet, for as long as we look.
    await sleep(2_000);
    const off = await stats();
    expect(captures()).toEqual([]);
    expect(off.audioPackets ?? 0).toBe(0);

    // On (a click: the user gesture that lets the page play sound).
    await page.click('#sound');
    await waitFor('the streamer saying sound is on', async () => (await stats()).audioStates.some((m) => m.on) || undefined, 10_000, 100);
    const on = await hearing('the tone arriving');
    expect(on.audioCodec).toBe('audio/opus');
    expect(captures()).toHaveLength(1);
    expect((await receiverStats(page)).errors).toEqual([]);

    // Off again: the capture ends and the packets stop.
    await page.click('#sound');
    await waitFor('the capture to end', () => captures().length === 0 || undefined, 5_000, 100);
    await sleep(500);
    const a = await stats();
    await sleep(1_500);
    const b = await stats();
    expect(b.audioPackets).toBe(a.audioPackets);
    expect(b.audioStates.at(-1)).toMatchObject({ available: true, on: false });

    // And on again in the same session: the stream goes on where it stopped.
    await page.click('#sound');
    await hearing('the tone again', b);
  });

  it('starts a sound server that died again, and the sound comes back by itself', async () => {
    const before = record().processes.audio!;
    const server = inSandbox('audio', 'pulseaudio');
    expect(server).toHaveLength(1);
    const oldCapture = captures();
    expect(oldCapture).toHaveLength(1); // sound is still on from the test before
    const statesBefore = (await stats()).audioStates.length;
    process.kill(server[0]!, 'SIGKILL');
    await waitFor('a new sound server', () => {
      const now = record().processes.audio;
      return now && now.pid !== before.pid && inSandbox('audio', 'pulseaudio').length === 1 ? now : undefined;
    }, 15_000, 200);
    // The tone's program lost its server with it; a new one plays into the new server.
    await type('gst-launch-1.0 -q audiotestsrc is-live=true freq=660 volume=0.5 ! pulsesink client-name=tone2 &\n');
    const since = await stats();
    await hearing('the sound after the restart', since);
    // A new capture, started by the streamer itself: the page was never told sound went off.
    expect(captures()).toHaveLength(1);
    expect(captures()).not.toEqual(oldCapture);
    expect((await stats()).audioStates.slice(statesBefore).filter((m) => !m.on)).toEqual([]);
  });

  it('says so when the viewer offers no audio, and never captures for it', async () => {
    const s = await receive({});
    expect(s.audioStates[0]).toMatchObject({ available: false, on: false });
    expect(s.audioStates[0]!.message).toMatch(/Opus/);
    await page.evaluate(`window.receiver.send({ t: 'a', on: true })`);
    await sleep(1_000);
    expect(captures()).toEqual([]);
    expect((await stats()).audioStates.at(-1)).toMatchObject({ available: false, on: false });
    await type('kill %1 %2 2>/dev/null\n');
  });
});
