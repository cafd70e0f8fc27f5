/**
 * WebRTC and VNC side by side, as a person uses them: the real agent (local runtime, sandboxed
 * desktop), the real web shell, launcher renderer and core in Debian's Chromium, one desktop, one
 * clock. On the session's display run the yardstick's clock (../shared/anchors/webrtc-gst/clock.c,
 * static or moving scene) and keyflash (bench/stream/keyflash.c: a square that flips colour on every
 * key). The page (bench/stream/paths-page.ts) reads both from every shown frame. Per protocol and
 * scene: shown fps, glass-to-glass p50/p95, input-to-photon p50/p95 (a key pressed in the page until
 * the frame that shows its effect), bitrate, and CPU of each part (agent, Xvnc, streamer).
 * The desktop is the product's: 1280x800.
 * Env: BENCH_SECS (10), BENCH_WARMUP (3), BENCH_CODEC (H264), ANCHOR_DIR.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { GEOMETRY } from '../cluster-agent/runtime/local/xvnc.js';
import { launchChromium } from '../test/support/browser.js';
import { stopAllSessions } from '../test/support/agent-api.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir, waitFor, type Started } from '../test/support/processes.js';
import { builtStreamer } from '../test/support/streamer.js';
import { PATHS_PAGE_JS } from './stream/paths-page.js';
import { runningDesktop } from './local-desktop.js';
import { percentile, printResult, printTable, round } from './stats.js';

const SECS = Number(process.env.BENCH_SECS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const CODEC = process.env.BENCH_CODEC ?? 'H264';
const anchor = resolve(process.env.ANCHOR_DIR ?? join(repoRoot, '..', 'shared', 'anchors', 'webrtc-gst'));
const PASSWORD = 'bench-paths-pw';
/** keyflash's square: bottom right, clear of the marker strip and of noVNC's cursor dot */
const FLASH = { x: GEOMETRY.width - 120, y: GEOMETRY.height - 100, w: 80, h: 60 };
const CLK_TCK = 100;

/** Builds a C client once per source text, outside the repo (~/.cache/porthole/bench/<hash>/NAME). */
function buildClient(name: string, source: string, libs: string[]): string {
  const text = readFileSync(source);
  const dir = join(homedir(), '.cache', 'porthole', 'bench', createHash('sha256').update(text).update(libs.join(' ')).digest('hex').slice(0, 16));
  const out = join(dir, name);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('cc', ['-O2', '-o', out, source, ...libs], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`building ${name} failed (needs gcc and ${libs.includes('-lX11') ? 'libx11-dev' : 'libxcb1-dev'}): ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
    }
  }
  return out;
}

/** A client on the session's display: the sandbox's X socket dir bound where Xlib looks, with the display's cookie. */
function onDisplay(runDir: string, argv: string[]): ChildProcess {
  return spawn('bwrap', ['--die-with-parent', '--dev-bind', '/', '/', '--bind', join(runDir, 'x11'), '/tmp/.X11-unix', '--setenv', 'DISPLAY', ':0', '--setenv', 'XAUTHORITY', join(runDir, 'display', 'Xauthority'), '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** utime+stime ticks of each process, by pid. */
function cpuTicks(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(pid, Number(rest[11]) + Number(rest[12]));
    } catch {
      // gone
    }
  }
  return out;
}

/** The processes under `root`, grouped: the agent itself, Xvnc, the streamer (node + its encoder). */
function partsOf(root: number): Record<'agent' | 'xvnc' | 'streamer', number[]> {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmd.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone
    }
  }
  const under = (pid: number): boolean => {
    for (let p = pid, i = 0; p > 1 && i < 64; p = parent.get(p) ?? 0, i++) if (p === root) return true;
    return false;
  };
  const parts = { agent: [root], xvnc: [] as number[], streamer: [] as number[] };
  for (const [pid, c] of cmd) {
    if (pid === root || !under(pid)) continue;
    if (/^(\S*\/)?Xvnc /.test(c)) parts.xvnc.push(pid);
    else if (/porthole-streamer|porthole-enc/.test(c)) parts.streamer.push(pid);
  }
  return parts;
}

interface Window {
  g2g: number[];
  i2p: number[];
  frames: number;
  bad: number;
  secs: number;
  rtpBytes: number;
  codec: string | null;
  source: string | null;
}

/** Opens the session from the launcher with the person's stream setting fixed to `protocol`. */
async function openSession(page: Page, protocol: 'webrtc' | 'vnc', sessionId: string): Promise<void> {
  await page.getByTestId(`open-${sessionId}`).click({ timeout: 20_000 });
  await page.getByTestId('protocol-setting').selectOption(protocol);
  const why = async () => `status "${await page.getByTestId('connection-status').textContent()}", note "${await page.getByTestId('stream-note').textContent({ timeout: 500 }).catch(() => '')}"`;
  await waitFor(`the ${protocol} stream`, async () => (await page.getByTestId('stream-protocol').textContent()) === (protocol === 'webrtc' ? 'WebRTC' : 'VNC') || undefined, 30_000, 200).catch(async (e: Error) => {
    throw new Error(`${e.message} (${await why()})`);
  });
  await waitFor('the stream to connect', async () => ((await page.getByTestId('connection-status').textContent()) ?? '').match(/^connected/i), 45_000, 200);
  // focus the screen (the click lands on the clock's window, which takes no input)
  await page.locator('[data-testid="desktop-screen"] video, [data-testid="desktop-screen"] canvas').first().click({ position: { x: 40, y: 120 } });
}

/** Bytes of every WebSocket frame the page receives while `on` (VNC's bitrate; signalling is tiny). */
const wsCount = { on: false, bytes: 0 };

async function measure(page: Page, agentPid: number): Promise<{ w: Window; cpu: Record<string, number>; wsBytes: number }> {
  await page.waitForTimeout(WARMUP * 1000);
  const parts = partsOf(agentPid);
  const pids = [...parts.agent, ...parts.xvnc, ...parts.streamer];
  const t0 = cpuTicks(pids);
  const start = performance.now();
  await page.evaluate('window.__paths.start()');
  Object.assign(wsCount, { on: true, bytes: 0 });
  // a key every 200-260 ms (jittered so presses do not lock to the frame clock)
  const until = Date.now() + SECS * 1000;
  while (Date.now() < until) {
    await page.keyboard.press('a');
    await page.waitForTimeout(200 + Math.random() * 60);
  }
  wsCount.on = false;
  const w = (await page.evaluate('window.__paths.stop()')) as Window;
  const secs = (performance.now() - start) / 1000;
  const t1 = cpuTicks(pids);
  const pct = (group: number[]) => round(group.reduce((s, pid) => s + ((t1.get(pid) ?? 0) - (t0.get(pid) ?? t1.get(pid) ?? 0)), 0) / CLK_TCK / secs * 100, 0);
  return { w, cpu: { agent: pct(parts.agent), xvnc: pct(parts.xvnc), streamer: pct(parts.streamer) }, wsBytes: wsCount.bytes };
}

async function main(): Promise<void> {
  if (!existsSync(join(anchor, 'clock.c'))) throw new Error(`no yardstick clock at ${anchor}/clock.c (set ANCHOR_DIR)`);
  const clock = buildClient('clock', join(anchor, 'clock.c'), ['-lX11']);
  const keyflash = buildClient('keyflash', join(repoRoot, 'bench/stream/keyflash.c'), ['-lxcb']);
  builtStreamer();
  execFileSync('npm', ['run', '--silent', 'build:renderer'], { cwd: repoRoot, stdio: 'ignore' });

  const data = tempDir('bench-paths');
  const usersFile = join(data.path, 'users.yaml');
  await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'bench', '--file', usersFile, '--password-stdin'], PASSWORD);
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', data.path], /^listening on (\S+)/);
  const agentUrl = agent.match[1]!;
  let shell: Started | undefined;
  let browser: BrowserContext | undefined;
  const clients: ChildProcess[] = [];
  try {
    const created = await runningDesktop(agentUrl, data.path, 'bench', PASSWORD);
    const { runDir } = created;

    shell = await startCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0', '--agent', agentUrl], /^webshell on (\S+)/);
    browser = await launchChromium(join(data.path, 'chromium'));
    await browser.addInitScript(`window.__pathsFlash = ${JSON.stringify({ x: FLASH.x + FLASH.w / 2, y: FLASH.y + FLASH.h / 2 })};\n${PATHS_PAGE_JS}`);
    const page = browser.pages()[0] ?? (await browser.newPage());
    if (process.env.BENCH_DEBUG) page.on('console', (m) => console.error(`page: ${m.text()}`));
    page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        if (wsCount.on) wsCount.bytes += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      }),
    );
    await page.goto(shell.match[1]!);
    await page.getByTestId('username').fill('bench');
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('sign-in').click();
    await page.getByTestId(`open-${created.id}`).waitFor({ timeout: 20_000 });
    if (CODEC !== 'H264') console.log(`(BENCH_CODEC=${CODEC} is what the page offers first only when the device panel ranks it so; this bench measures what the launcher negotiates)`);

    const rows: Record<string, string | number>[] = [];
    const result: Record<string, unknown> = { benchmark: 'stream-paths', geometry: `${GEOMETRY.width}x${GEOMETRY.height}`, seconds: SECS };
    for (const scene of ['static', 'motion'] as const) {
      const clk = onDisplay(runDir, [clock, '250', scene === 'motion' ? '1' : '0', '60']);
      clients.push(clk);
      await new Promise((r) => setTimeout(r, 500));
      const flash = onDisplay(runDir, [keyflash, String(FLASH.x), String(FLASH.y), String(FLASH.w), String(FLASH.h)]);
      clients.push(flash);
      await new Promise<void>((ok, fail) => {
        flash.stdout!.on('data', (d: Buffer) => d.toString().includes('keyflash ready') && ok());
        flash.once('exit', (code) => fail(new Error(`keyflash exited (${code})`)));
      });
      for (const protocol of ['webrtc', 'vnc'] as const) {
        console.log(`# ${scene} scene over ${protocol}: ${WARMUP} s warm-up, ${SECS} s measured (about ${WARMUP + SECS + 8} s)`);
        await openSession(page, protocol, created.id);
        const { w, cpu, wsBytes } = await measure(page, agent.child.pid!);
        const kbps = ((protocol === 'vnc' ? wsBytes : w.rtpBytes) * 8) / 1000 / w.secs;
        const row = {
          scene,
          protocol: protocol === 'webrtc' ? `WebRTC ${(w.codec ?? '?').replace('video/', '')}` : 'VNC',
          fps_shown: round(w.frames / w.secs, 1),
          g2g_p50: round(percentile(w.g2g, 50), 1),
          g2g_p95: round(percentile(w.g2g, 95), 1),
          i2p_p50: round(percentile(w.i2p, 50), 1),
          i2p_p95: round(percentile(w.i2p, 95), 1),
          keys: w.i2p.length,
          kbps: round(kbps, 0),
          cpu_agent: cpu.agent!,
          cpu_xvnc: cpu.xvnc!,
          cpu_streamer: cpu.streamer!,
          unreadable: w.bad,
        };
        rows.push(row);
        result[`${protocol}/${scene}`] = row;
        await page.getByTestId('back-to-launcher').click();
      }
      for (const c of clients.splice(0)) await stopProcess(c, 'SIGKILL');
    }
    printTable(`WebRTC and VNC through the agent, same desktop (${GEOMETRY.width}x${GEOMETRY.height}), clock and page (latency ms; CPU % of one core; i2p = input-to-photon)`, rows);
    printResult(result);
  } catch (error) {
    if (process.env.BENCH_DEBUG) console.error(agent.output.slice(-40).join('\n'));
    throw error;
  } finally {
    for (const c of clients) await stopProcess(c, 'SIGKILL');
    await browser?.close();
    if (shell) await stopProcess(shell.child);
    await stopAllSessions(agentUrl, 'bench', PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
