/**
 * The local runtime on real Xvnc desktops: start, see pixels over VncAuth, start-or-get under
 * concurrency, adoption by a second runtime (agent restart), crash detection, stop, logout.
 * Every process started here is found by the PIDs the runtime recorded and killed in afterAll.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Session } from '../../cluster-agent/contract/index.js';
import { createLocalRuntime } from '../../cluster-agent/runtime/local/index.js';
import { findProgram } from '../../cluster-agent/runtime/local/templates.js';
import { SYSTEM_PATH } from '../../cluster-agent/runtime/local/sandbox-host.js';
import { isOurs, pidAlive, statOf } from '../../cluster-agent/runtime/local/processes.js';
import { cleanStaleDisplay } from '../../cluster-agent/runtime/local/displays.js';
import { RuntimeError, type Runtime } from '../../cluster-agent/runtime/types.js';
import { tempDir, waitFor } from '../support/processes.js';
import { distinctColours, RfbClient } from '../support/rfb-client.js';

type Ref = { pid: number; argv: string[]; startTime?: number; pidNs?: string };
interface Recorded {
  runDir: string;
  isolation: 'sandbox' | 'shared';
  uid?: number;
  display?: number;
  processes: { display?: Ref; desktop?: Ref };
}

/** Kills a recorded process the way it was started: a sandbox dies with its init, a shared one by group. */
function kill(rec: Recorded, ref: Ref | undefined): void {
  if (ref && isOurs(ref)) process.kill(rec.isolation === 'sandbox' ? ref.pid : -ref.pid, 'SIGKILL');
}

const dirs: Array<{ path: string; remove: () => void }> = [];
const runtimes: Runtime[] = [];

function newDataDir() {
  const dir = tempDir('local-runtime');
  dirs.push(dir);
  return dir.path;
}

/** A directory of stand-in programs; readable by the desktops' own uids (they run as those, not as root). */
function programDir(prefix: string) {
  const dir = tempDir(prefix);
  dirs.push(dir);
  chmodSync(dir.path, 0o755);
  return dir;
}

async function runtimeOn(dataDir: string, extra: { searchPath?: string; isolation?: 'sandbox' | 'shared' } = {}): Promise<Runtime> {
  const rt = await createLocalRuntime({ dataDir, startTimeoutMs: 20_000, stopGraceMs: 1_000, ...extra });
  runtimes.push(rt);
  return rt;
}

/** What the runtime persisted about a session (PIDs, display, run dir). */
function recorded(dataDir: string, id: string): Recorded & { session: Session } {
  const state = JSON.parse(readFileSync(join(dataDir, 'local-sessions.json'), 'utf8')) as { sessions: Array<Recorded & { session: Session }> };
  const rec = state.sessions.find((r) => r.session.id === id);
  if (!rec) throw new Error(`no record for ${id}`);
  return rec;
}

async function phaseOf(rt: Runtime, id: string, phase: Session['phase'], timeoutMs = 20_000): Promise<Session> {
  return waitFor(`${id} ${phase}`, async () => {
    const s = await rt.get(id);
    if (s && (s.phase === 'Failed' || s.phase === 'Stopped') && s.phase !== phase) throw new Error(`${id} is ${s.phase}: ${s.message}`);
    return s?.phase === phase ? s : undefined;
  }, timeoutMs, 50);
}

/** Connects with VncAuth and waits for a frame that is not one flat colour (xterm drawn). */
async function seeDesktop(rt: Runtime, id: string): Promise<{ width: number; height: number; colours: number }> {
  const endpoint = await rt.streamEndpoint(id, 'vnc');
  if (endpoint.kind !== 'unix') throw new Error('expected a unix socket');
  const client = await RfbClient.connect({ kind: 'unix', path: endpoint.path }, endpoint.password);
  try {
    let colours = 0;
    const deadline = Date.now() + 10_000;
    while (colours < 2 && Date.now() < deadline) {
      client.requestUpdate(false);
      colours = distinctColours(await client.nextUpdate(true));
      if (colours < 2) await new Promise((r) => setTimeout(r, 200));
    }
    return { width: client.init.width, height: client.init.height, colours };
  } finally {
    client.close();
  }
}

afterAll(async () => {
  // Stop what is still live through the runtimes (they clean locks and run dirs)...
  for (const rt of runtimes) {
    for (const s of await rt.list()) if (s.phase !== 'Stopped' && s.phase !== 'Failed') await rt.stop(s.id).catch(() => undefined);
    await rt.close();
  }
  // ...then kill anything left by the PIDs they recorded, and remove the X locks of what we killed.
  for (const dir of dirs) {
    const file = join(dir.path, 'local-sessions.json');
    if (existsSync(file)) {
      const state = JSON.parse(readFileSync(file, 'utf8')) as { sessions: Recorded[] };
      for (const rec of state.sessions) {
        for (const p of [rec.processes.desktop, rec.processes.display]) kill(rec, p);
        const xvnc = rec.processes.display;
        if (xvnc && rec.display !== undefined && rec.isolation === 'shared') {
          await waitFor('killed Xvnc gone', () => !isOurs(xvnc) || undefined, 5_000);
          cleanStaleDisplay(rec.display, xvnc.pid, pidAlive);
        }
      }
    }
    dir.remove();
  }
});

describe('local runtime on real Xvnc', () => {
  it('starts a terminal desktop that a VncAuth client sees drawn at 1280x800', async () => {
    const dataDir = newDataDir();
    const rt = await runtimeOn(dataDir);
    const phases: string[] = [];
    rt.on('session', (s: Session) => phases.push(s.phase));

    const { session, created } = await rt.startOrGet('alice', 'terminal');
    expect(created).toBe(true);
    expect(session.id).toMatch(/^s-[a-z2-7]{10}$/);
    const running = await phaseOf(rt, session.id, 'Running');
    expect(phases.slice(0, 3)).toEqual(['Pending', 'Starting', 'Starting']);
    expect(phases).toContain('Running');
    expect(running.startedAt).toBeDefined();
    expect(running.expectedStartSeconds).toBeGreaterThan(0);

    const screen = await seeDesktop(rt, session.id);
    expect(screen).toMatchObject({ width: 1280, height: 800 });
    expect(screen.colours).toBeGreaterThan(1);

    // Secrets: 0600 files in a 0700 run dir; the socket 0600; nothing in the state file; no TCP.
    const rec = recorded(dataDir, session.id);
    const endpoint = await rt.streamEndpoint(session.id, 'vnc');
    expect(statSync(rec.runDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(rec.runDir, 'vnc.password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(rec.runDir, 'display', 'vnc.passwd')).mode & 0o777).toBe(0o600);
    expect(endpoint.kind === 'unix' && statSync(endpoint.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'homes', 'alice')).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dataDir, 'local-sessions.json'), 'utf8')).not.toContain(endpoint.password);
    expect(rec.processes.display!.argv.join(' ')).toContain('-rfbport -1');
    expect(readFileSync('/proc/net/tcp', 'utf8') + readFileSync('/proc/net/tcp6', 'utf8')).not.toMatch(new RegExp(`:${(5900 + rec.display!).toString(16).toUpperCase()} `));

    await rt.stop(session.id);
  });

  it('gives one desktop to 10 concurrent start-or-get calls of one user', async () => {
    const rt = await runtimeOn(newDataDir());
    const results = await Promise.all(Array.from({ length: 10 }, () => rt.startOrGet('bob', 'terminal')));
    const ids = new Set(results.map((r) => r.session.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const id = [...ids][0]!;
    await phaseOf(rt, id, 'Running');
    const again = await rt.startOrGet('bob', 'terminal');
    expect(again).toMatchObject({ created: false, session: { id, phase: 'Running' } });
    expect((await rt.list()).filter((s) => s.user === 'bob')).toHaveLength(1);
    await rt.stop(id);
  });

  it('is adopted by a second runtime on the same data dir, which then notices its Xvnc being killed', async () => {
    const dataDir = newDataDir();
    const first = await runtimeOn(dataDir);
    const { session } = await first.startOrGet('dave', 'terminal');
    await phaseOf(first, session.id, 'Running');
    const before = recorded(dataDir, session.id);
    await first.close();

    const second = await runtimeOn(dataDir);
    expect(await second.get(session.id)).toMatchObject({ phase: 'Running' });
    const after = recorded(dataDir, session.id);
    expect(after.processes.display!.pid).toBe(before.processes.display!.pid);
    expect(after.processes.desktop!.pid).toBe(before.processes.desktop!.pid);
    expect(isOurs(after.processes.display) && isOurs(after.processes.desktop)).toBe(true);
    expect((await seeDesktop(second, session.id)).width).toBe(1280);

    const killedAt = Date.now();
    process.kill(before.processes.display!.pid, 'SIGKILL');
    const failed = await phaseOf(second, session.id, 'Failed', 5_000);
    expect(Date.now() - killedAt).toBeLessThan(3_000);
    expect(failed.reason).toBe('Crashed');
    expect(failed.message).toMatch(/Xvnc.*stopped unexpectedly/);
    await expect(second.streamEndpoint(session.id, 'vnc')).rejects.toThrow(/Failed, not Running/);
    // the programs are ended and our dead display's lock is cleaned
    await waitFor('desktop programs gone', () => !isOurs(before.processes.desktop) || undefined, 5_000);
    await waitFor('run dir removed', () => !existsSync(before.runDir) || undefined, 5_000);
  });

  it('resumes a start that was under way when the agent stopped', async () => {
    const dataDir = newDataDir();
    const first = await runtimeOn(dataDir);
    // close the runtime right after the programs are spawned, before the desktop is Running
    first.on('session', (s: Session) => {
      if (s.phase === 'Starting' && s.message?.startsWith('Starting Terminal')) void first.close();
    });
    const { session } = await first.startOrGet('ivan', 'terminal');
    await waitFor('first runtime closed', async () => (await first.get(session.id))?.message?.startsWith('Starting Terminal') || undefined, 5_000, 10);
    await first.close();
    const rec = recorded(dataDir, session.id);
    expect(rec.session.phase).toBe('Starting');
    expect(isOurs(rec.processes.display) && isOurs(rec.processes.desktop)).toBe(true);

    const second = await runtimeOn(dataDir);
    await phaseOf(second, session.id, 'Running');
    expect(recorded(dataDir, session.id).processes.display!.pid).toBe(rec.processes.display!.pid);
    expect((await seeDesktop(second, session.id)).height).toBe(800);
    await second.stop(session.id);
  });

  it('marks a desktop that died while the agent was down Failed', async () => {
    const dataDir = newDataDir();
    const first = await runtimeOn(dataDir);
    const { session } = await first.startOrGet('erin', 'terminal');
    await phaseOf(first, session.id, 'Running');
    const rec = recorded(dataDir, session.id);
    await first.close();
    kill(rec, rec.processes.desktop);
    kill(rec, rec.processes.display);
    await waitFor('processes gone', () => (!isOurs(rec.processes.display) && !isOurs(rec.processes.desktop)) || undefined, 5_000);

    const second = await runtimeOn(dataDir);
    expect(await second.get(session.id)).toMatchObject({ phase: 'Failed', message: expect.stringContaining('stopped while the agent was down') });
  });

  it('stop() ends the processes and the run dir, keeps the home, and is idempotent', async () => {
    const dataDir = newDataDir();
    const rt = await runtimeOn(dataDir);
    const { session } = await rt.startOrGet('carol', 'terminal');
    await phaseOf(rt, session.id, 'Running');
    const rec = recorded(dataDir, session.id);
    const home = join(dataDir, 'homes', 'carol');
    writeFileSync(join(home, 'notes.txt'), 'keep me');

    await Promise.all([rt.stop(session.id), rt.stop(session.id)]);
    expect(await rt.get(session.id)).toMatchObject({ phase: 'Stopped' });
    expect(isOurs(rec.processes.display) || isOurs(rec.processes.desktop)).toBe(false);
    expect(existsSync(rec.runDir)).toBe(false);
    expect(readFileSync(join(home, 'notes.txt'), 'utf8')).toBe('keep me');
    await rt.stop(session.id); // again: nothing to do
    await expect(rt.streamEndpoint(session.id, 'vnc')).rejects.toThrow(RuntimeError);

    // a new session of the same user gets the same home
    const next = await rt.startOrGet('carol', 'terminal');
    expect(next.created).toBe(true);
    expect(next.session.id).not.toBe(session.id);
    await rt.stop(next.session.id);
    expect(existsSync(join(home, 'notes.txt'))).toBe(true);
  });

  it('becomes Stopped, saying so, when the user exits the last terminal', async () => {
    const dataDir = newDataDir();
    const rt = await runtimeOn(dataDir);
    const { session } = await rt.startOrGet('frank', 'terminal');
    await phaseOf(rt, session.id, 'Running');
    await seeDesktop(rt, session.id);
    const endpoint = await rt.streamEndpoint(session.id, 'vnc');
    if (endpoint.kind !== 'unix') throw new Error('expected a unix socket');
    const client = await RfbClient.connect({ kind: 'unix', path: endpoint.path }, endpoint.password);
    try {
      // Type `exit` until the shell gets it: the first keys may land before openbox has focused xterm.
      const stopped = await waitFor('Stopped after exit', async () => {
        for (const ch of 'exit') client.key(ch.charCodeAt(0));
        client.key(0xff0d); // Return
        await new Promise((r) => setTimeout(r, 300));
        const s = await rt.get(session.id);
        return s?.phase === 'Stopped' ? s : undefined;
      }, 8_000, 10);
      expect(stopped.message).toMatch(/programs exited/);
      expect(stopped.reason).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('fails a start that exceeds the timeout with Timeout, leaving nothing running', async () => {
    // A window manager that never manages the screen: the 150 ms deadline passes whatever the machine's
    // load (a real openbox can win the race on an idle machine). The desktop finds programs on searchPath.
    const bin = programDir('no-wm');
    writeFileSync(join(bin.path, 'openbox'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const dataDir = newDataDir();
    const rt = await createLocalRuntime({ dataDir, startTimeoutMs: 150, stopGraceMs: 1_000, searchPath: `${bin.path}:${SYSTEM_PATH}` });
    runtimes.push(rt);
    const { session } = await rt.startOrGet('gina', 'terminal');
    const failed = await phaseOf(rt, session.id, 'Failed');
    expect(failed.reason).toBe('Timeout');
    expect(failed.message).toMatch(/did not start within 0.1 seconds \((no window manager appeared|the display server did not accept connections)\)/);
    const rec = recorded(dataDir, session.id);
    await waitFor('processes ended', () => (!isOurs(rec.processes.display) && !isOurs(rec.processes.desktop) && !existsSync(rec.runDir)) || undefined, 5_000);
  });

  it('fails with the last lines of Xvnc\'s log when Xvnc cannot start', async () => {
    const bin = programDir('fake-xvnc');
    writeFileSync(join(bin.path, 'Xvnc'), '#!/bin/sh\necho "(EE) Fatal server error: no screens found (a test)" >&2\nexit 1\n', { mode: 0o755 });
    const rt = await runtimeOn(newDataDir(), { searchPath: `${bin.path}:${SYSTEM_PATH}` });
    const { session } = await rt.startOrGet('hank', 'terminal');
    const failed = await phaseOf(rt, session.id, 'Failed');
    expect(failed.reason).toBe('XvncFailed');
    expect(failed.message).toMatch(/Xvnc\) exited while starting\. Last log lines: .*no screens found \(a test\)/);
  });

  it('tries another display when Xvnc finds its number taken (shared desktops: sandboxed ones have a display of their own)', async () => {
    const bin = programDir('racy-xvnc');
    // The first start loses a race for the display; later ones are the real Xvnc (same argv[0]).
    writeFileSync(
      join(bin.path, 'Xvnc'),
      `#!/bin/bash\nif [ ! -e "${bin.path}/raced" ]; then touch "${bin.path}/raced"; echo "(EE) Server is already active for display \${1#:}" >&2; exit 1; fi\nexec -a "$0" /usr/bin/Xvnc "$@"\n`,
      { mode: 0o755 },
    );
    const rt = await runtimeOn(newDataDir(), { searchPath: `${bin.path}:${process.env.PATH}`, isolation: 'shared' });
    const { session } = await rt.startOrGet('judy', 'terminal');
    await phaseOf(rt, session.id, 'Running');
    expect(existsSync(join(bin.path, 'raced'))).toBe(true);
    expect((await seeDesktop(rt, session.id)).width).toBe(1280);
    await rt.stop(session.id);
  });

  it('reports unavailable templates with a reason, and refuses bad requests clearly', async () => {
    const rt = await runtimeOn(newDataDir(), { searchPath: '/nonexistent', isolation: 'shared' });
    const templates = await rt.templates();
    const terminal = templates.find((t) => t.name === 'terminal')!;
    expect(terminal).toMatchObject({ available: false, protocols: ['vnc'] });
    expect(terminal.unavailableReason).toMatch(/not installed.*sudo apt-get install .*xterm/);
    await expect(rt.startOrGet('alice', 'terminal')).rejects.toMatchObject({ code: 'unavailable', message: terminal.unavailableReason });
    await expect(rt.startOrGet('alice', 'nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(rt.startOrGet('../etc', 'terminal')).rejects.toMatchObject({ code: 'bad_request' });

    const real = await runtimeOn(newDataDir());
    const xfce = (await real.templates()).find((t) => t.name === 'xfce')!;
    if (findProgram('startxfce4')) {
      expect(xfce.available).toBe(true);
    } else {
      expect(xfce.available).toBe(false);
      expect(xfce.unavailableReason).toMatch(/The XFCE desktop is not installed on this machine.*`sudo apt-get install xfce4 dbus-x11`/);
    }
    expect((await real.templates()).find((t) => t.name === 'terminal')!.available).toBe(true);
  });

  it('refuses a data dir that another live agent holds, and takes over a stale lock', async () => {
    const dataDir = newDataDir();
    const holder = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dataDir, 'local-runtime.lock'), `${holder.pid} ${statOf(holder.pid!)!.startTime}\n`);
      await expect(createLocalRuntime({ dataDir })).rejects.toThrow(/Another agent \(pid \d+\) is using the data directory/);
      writeFileSync(join(dataDir, 'local-runtime.lock'), `${holder.pid} 1\n`); // same PID, other process: stale
      const rt = await runtimeOn(dataDir);
      expect(await rt.list()).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('honours what a stop was decided on: not a watched desktop, not a recently used one, not a newer incarnation', async () => {
    const rt = await runtimeOn(newDataDir());
    const { session } = await rt.startOrGet('kim', 'terminal');
    const running = await phaseOf(rt, session.id, 'Running');
    const decided = { createdAt: running.createdAt, startedAt: running.startedAt! };
    await rt.setConnectedClients(session.id, 1); // someone is watching
    await rt.stop(session.id, 'Idle', { ...decided, idleTimeoutSeconds: 1 });
    expect((await rt.get(session.id))!.phase).toBe('Running');
    await rt.setConnectedClients(session.id, 0); // just left: idle for 0 s, not an hour
    await rt.stop(session.id, 'Idle', { ...decided, idleTimeoutSeconds: 3600 });
    expect((await rt.get(session.id))!.phase).toBe('Running');
    await rt.stop(session.id, 'Idle', { createdAt: '2020-01-01T00:00:00Z' }); // decided about another incarnation
    expect((await rt.get(session.id))!.phase).toBe('Running');
    await new Promise((r) => setTimeout(r, 1_100));
    await rt.stop(session.id, 'Idle: no client for 1 second', { ...decided, idleTimeoutSeconds: 1 });
    expect(await rt.get(session.id)).toMatchObject({ phase: 'Stopped', message: 'Idle: no client for 1 second' });
  });

  it('refuses every template, saying what is missing, when no sandbox can be made; shared desktops carry a warning', async () => {
    const bin = programDir('no-bwrap');
    for (const p of ['Xvnc', 'openbox', 'xterm']) writeFileSync(join(bin.path, p), '#!/bin/sh\nexec /usr/bin/' + p + ' "$@"\n', { mode: 0o755 });
    const rt = await runtimeOn(newDataDir(), { searchPath: bin.path });
    const terminal = (await rt.templates()).find((t) => t.name === 'terminal')!;
    expect(terminal).toMatchObject({ available: false, unavailableReason: expect.stringMatching(/need a sandbox, and bubblewrap is not installed: run `sudo apt-get install bubblewrap`.*--unsafe-shared-desktops/) });
    await expect(rt.startOrGet('lee', 'terminal')).rejects.toMatchObject({ code: 'unavailable', message: terminal.unavailableReason });

    const shared = await runtimeOn(newDataDir(), { isolation: 'shared' });
    const t = (await shared.templates()).find((x) => x.name === 'terminal')!;
    expect(t).toMatchObject({ available: true, warning: expect.stringMatching(/not isolated.*--unsafe-shared-desktops.*can read its keys/) });
    expect((await (await runtimeOn(newDataDir())).templates()).find((x) => x.name === 'terminal')!.warning).toBeUndefined();
  });

  it('refuses a data dir where no directory can be made, at once (Node\'s recursive mkdir spins for ever on /proc)', async () => {
    const t0 = Date.now();
    await expect(createLocalRuntime({ dataDir: '/proc/porthole-no-such-dir' })).rejects.toThrow(/ENOENT/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
