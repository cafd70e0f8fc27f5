/**
 * The local runtime: each session is an Xvnc plus a desktop script (window manager + programs),
 * two detached process groups that outlive the agent. State lives in `<dataDir>/local-sessions.json`;
 * a new agent adopts what still runs. Liveness is polled from /proc about once a second.
 */
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { UserName, type Session, type SessionPhase } from '../../contract/index.js';
import { vncPasswordFile } from '../../vnc/des.js';
import { RuntimeError, type Runtime, type StartResult, type TemplateSpec, type VncEndpoint } from '../types.js';
import { lockDataDir, unlockDataDir } from './data-dir-lock.js';
import { cleanStaleDisplay, releaseDisplay, reserveDisplay } from './displays.js';
import { newSessionId, newVncPassword, newXCookie } from './ids.js';
import { isOurs, pidAlive, spawnDetached, stopGroups } from './processes.js';
import { probeX11, vncSocketAnswers } from './probes.js';
import { addStartSample, expectedSeconds, type StartStats } from './start-stats.js';
import { loadState, pruneFinished, saveState, type LocalSessionRecord } from './state-store.js';
import { builtInTemplates, desktopScript, findProgram, type LocalTemplate } from './templates.js';
import { displayWasTaken, xvncArgv } from './xvnc.js';
import { cookieFromXauthority, xauthorityEntry } from './xauthority.js';

export interface LocalRuntimeOptions {
  dataDir: string;
  logger?: Logger;
  /** from create to Running; default 45 s (XFCE on a busy machine is slow) */
  startTimeoutMs?: number;
  /** where programs are looked up (tests); default process.env.PATH */
  searchPath?: string;
  /** how often live desktops are checked; default 1000 ms */
  watchIntervalMs?: number;
  /** SIGTERM -> SIGKILL grace when stopping; default 2000 ms */
  stopGraceMs?: number;
}

const LIVE: ReadonlySet<SessionPhase> = new Set(['Pending', 'Starting', 'Running', 'Stopping']);
const MAX_DISPLAY_ATTEMPTS = 5;
/** sockaddr_un.sun_path is 108 bytes including the NUL */
const MAX_SOCKET_PATH = 107;

/** Thrown inside a start to end it with Failed (reason, message). */
class StartFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown inside a start when it should just stop: the session was stopped, or the runtime closed. */
class StartAbandoned extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const seconds = (ms: number) => (ms < 10_000 ? (ms / 1000).toFixed(1) : String(Math.round(ms / 1000)));

/** The last few non-empty lines of a log, for messages. Never includes secrets: we never log them. */
function logTail(file: string, lines = 5): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-lines)
      .join(' | ');
  } catch {
    return '';
  }
}

export class LocalRuntime extends EventEmitter implements Runtime {
  readonly kind = 'local' as const;
  private readonly log: Logger;
  private readonly stateFile: string;
  private readonly homesDir: string;
  private readonly runRoot: string;
  private readonly startTimeoutMs: number;
  private readonly watchIntervalMs: number;
  private readonly stopGraceMs: number;
  private records = new Map<string, LocalSessionRecord>();
  private stats: StartStats = {};
  private local: LocalTemplate[] = [];
  /** ids whose processes are being ended (stop or failure cleanup); stop() joins these */
  private ending = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private initialised = false;
  /** close() was called: no new starts, starts under way stop where they are */
  private closing = false;
  /** close() finished: nothing is written any more, the next agent owns the state file */
  private closed = false;

  constructor(private readonly opts: LocalRuntimeOptions) {
    super();
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.stateFile = join(opts.dataDir, 'local-sessions.json');
    this.homesDir = join(opts.dataDir, 'homes');
    this.runRoot = join(opts.dataDir, 'run');
    this.startTimeoutMs = opts.startTimeoutMs ?? 45_000;
    this.watchIntervalMs = opts.watchIntervalMs ?? 1_000;
    this.stopGraceMs = opts.stopGraceMs ?? 2_000;
  }

  // ---- Runtime interface -------------------------------------------------------------------

  async init(): Promise<void> {
    if (this.initialised) return;
    for (const dir of [this.opts.dataDir, this.homesDir, this.runRoot]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    lockDataDir(this.opts.dataDir);
    this.detectTemplates();
    const { state, problem } = loadState(this.stateFile);
    if (problem) this.log.warn(problem);
    this.stats = state.startStats;
    for (const rec of state.sessions) this.records.set(rec.session.id, rec);
    for (const rec of this.records.values()) if (LIVE.has(rec.session.phase)) this.adopt(rec);
    this.save();
    this.initialised = true;
    this.timer = setInterval(() => this.watch(), this.watchIntervalMs);
    this.timer.unref();
  }

  async templates(): Promise<TemplateSpec[]> {
    this.detectTemplates(); // cheap, and picks up packages installed while the agent runs
    return this.local.map((t) => structuredClone(t.spec));
  }

  async list(): Promise<Session[]> {
    return [...this.records.values()].map((r) => this.view(r));
  }

  async get(id: string): Promise<Session | undefined> {
    const rec = this.records.get(id);
    return rec && this.view(rec);
  }

  /** Synchronous up to the new record, so concurrent calls for one user+template share one desktop. */
  async startOrGet(user: string, templateName: string): Promise<StartResult> {
    this.assertOpen();
    if (!UserName.safeParse(user).success) throw new RuntimeError('bad_request', `"${user}" is not a valid user name`);
    const existing = [...this.records.values()].find((r) => r.session.user === user && r.session.template === templateName && LIVE.has(r.session.phase) && r.session.phase !== 'Stopping');
    if (existing) return { session: this.view(existing), created: false };
    const template = this.local.find((t) => t.spec.name === templateName);
    if (!template) throw new RuntimeError('not_found', `There is no template "${templateName}" on this agent`);
    if (!template.spec.available) throw new RuntimeError('unavailable', template.spec.unavailableReason ?? `The template "${templateName}" cannot start on this machine`);

    let id = newSessionId();
    while (this.records.has(id)) id = newSessionId();
    const at = now();
    const rec: LocalSessionRecord = {
      session: { id, user, template: templateName, phase: 'Pending', message: 'Preparing the desktop', createdAt: at, phaseSince: at, connectedClients: 0 },
      runDir: join(this.runRoot, id),
    };
    this.records.set(id, rec);
    this.changed(rec);
    this.log.info({ session: id, user, template: templateName }, 'starting desktop');
    void this.start(rec, template);
    return { session: this.view(rec), created: true };
  }

  async stop(id: string, reason?: string): Promise<void> {
    if (this.closing) throw new RuntimeError('not_ready', 'The local runtime is shutting down');
    const rec = this.records.get(id);
    if (!rec) throw new RuntimeError('not_found', `There is no session "${id}"`);
    const pending = this.ending.get(id);
    if (pending) return pending;
    if (!LIVE.has(rec.session.phase)) return;
    this.setPhase(rec, 'Stopping', { message: reason ?? 'Stopping the desktop' });
    await this.endProcesses(rec, () => this.setPhase(rec, 'Stopped', { message: reason ?? 'The desktop was stopped. Files in your home folder are kept.' }));
  }

  async vncEndpoint(id: string): Promise<VncEndpoint> {
    const rec = this.records.get(id);
    if (!rec) throw new RuntimeError('not_found', `There is no session "${id}"`);
    if (rec.session.phase !== 'Running') {
      throw new RuntimeError('not_ready', `The desktop ${id} is ${rec.session.phase}, not Running: it cannot be viewed now`);
    }
    let password: string;
    try {
      password = readFileSync(this.paths(rec).password, 'utf8');
    } catch {
      throw new RuntimeError('not_ready', `The desktop ${id} is ending: it cannot be viewed now`);
    }
    return { kind: 'unix', path: this.paths(rec).vncSocket, password };
  }

  async setConnectedClients(id: string, count: number): Promise<void> {
    const rec = this.records.get(id);
    if (!rec) return; // a stream closing after its session was pruned: nothing to record
    rec.session.connectedClients = Math.max(0, Math.floor(count));
    rec.session.lastActiveAt = now();
    this.changed(rec);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true; // refuse new starts; starts under way leave their desktops for the next agent
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Let cleanups already under way finish (and be recorded) so no half-stopped desktop is left.
    await Promise.allSettled([...this.ending.values()]);
    this.closed = true;
    if (this.initialised) unlockDataDir(this.opts.dataDir);
  }

  // ---- starting ------------------------------------------------------------------------------

  private paths(rec: LocalSessionRecord) {
    const run = rec.runDir;
    return {
      run,
      home: join(this.homesDir, rec.session.user),
      vncSocket: join(run, 'vnc.sock'),
      password: join(run, 'vnc.password'),
      passwordFile: join(run, 'vnc.passwd'),
      xauthority: join(run, 'Xauthority'),
      xvncLog: join(run, 'xvnc.log'),
      desktopLog: join(run, 'desktop.log'),
      desktopScript: join(run, 'desktop.sh'),
      desktopExit: join(run, 'desktop.exit'),
      /** the programs' own runtime dir, apart from our files */
      xdgRuntime: join(run, 'xdg'),
    };
  }

  private async start(rec: LocalSessionRecord, template: LocalTemplate): Promise<void> {
    const deadline = Date.parse(rec.session.createdAt) + this.startTimeoutMs;
    try {
      const p = this.paths(rec);
      if (p.vncSocket.length > MAX_SOCKET_PATH) {
        throw new StartFailure('DataDirTooLong', `The data directory path is too long for a socket (${p.vncSocket}): use a shorter --data-dir`);
      }
      const xvnc = findProgram('Xvnc', this.opts.searchPath);
      if (!xvnc) throw new StartFailure('NotInstalled', 'Xvnc is not installed on this machine: run `sudo apt-get install tigervnc-standalone-server`');
      mkdirSync(p.run, { recursive: true, mode: 0o700 });
      mkdirSync(p.xdgRuntime, { mode: 0o700 });
      mkdirSync(p.home, { recursive: true, mode: 0o700 });
      chmodSync(p.home, 0o700);
      const password = newVncPassword();
      writeFileSync(p.password, password, { mode: 0o600 });
      writeFileSync(p.passwordFile, vncPasswordFile(password), { mode: 0o600 });
      writeFileSync(p.desktopScript, desktopScript(template), { mode: 0o700 });

      const cookie = newXCookie();
      await this.startXvnc(rec, template, xvnc, cookie, deadline);
      this.startDesktop(rec, template);
      await this.waitUntilReady(rec, cookie, deadline);

      const seconds = (Date.now() - Date.parse(rec.session.createdAt)) / 1000;
      this.stats[template.spec.name] = addStartSample(this.stats[template.spec.name], seconds);
      rec.session.startedAt = now();
      this.setPhase(rec, 'Running', {});
      this.log.info({ session: rec.session.id, seconds, display: rec.display }, 'desktop running');
    } catch (error) {
      if (error instanceof StartAbandoned) return;
      const failure = error instanceof StartFailure ? error : new StartFailure('StartError', `The desktop could not start: ${(error as Error).message}`);
      this.log.warn({ session: rec.session.id, reason: failure.reason }, failure.message);
      this.fail(rec, failure.reason, failure.message);
    }
  }

  /** The start goes on only while the session is still starting and the runtime is open. */
  private checkStillStarting(rec: LocalSessionRecord): void {
    if (this.closing || (rec.session.phase !== 'Pending' && rec.session.phase !== 'Starting')) throw new StartAbandoned();
  }

  private checkDeadline(deadline: number, what: string, log: string): void {
    if (Date.now() <= deadline) return;
    const tail = logTail(log);
    throw new StartFailure('Timeout', `The desktop did not start within ${seconds(this.startTimeoutMs)} seconds (${what}).${tail ? ` Last log lines: ${tail}` : ''}`);
  }

  private async startXvnc(rec: LocalSessionRecord, template: LocalTemplate, xvnc: string, cookie: Buffer, deadline: number): Promise<void> {
    const p = this.paths(rec);
    for (let attempt = 1; ; attempt++) {
      this.checkStillStarting(rec);
      const display = reserveDisplay();
      try {
        writeFileSync(p.xauthority, xauthorityEntry(display, cookie), { mode: 0o600 });
        rmSync(p.xvncLog, { force: true });
        const argv = xvncArgv(display, { xvnc, xauthority: p.xauthority, passwordFile: p.passwordFile, vncSocket: p.vncSocket }, `${rec.session.user}'s ${template.spec.displayName}`);
        rec.display = display;
        rec.xvnc = spawnDetached(argv, { cwd: p.run, env: { PATH: process.env.PATH, LANG: process.env.LANG ?? 'C.UTF-8' }, logFile: p.xvncLog });
        this.setPhase(rec, 'Starting', { message: 'Starting the display server' });
        for (;;) {
          await sleep(50);
          if (!isOurs(rec.xvnc)) break;
          this.checkStillStarting(rec);
          if ((await probeX11(display, cookie)) !== 'no-server') return;
          this.checkDeadline(deadline, 'the display server did not accept connections', p.xvncLog);
        }
      } finally {
        releaseDisplay(display);
      }
      this.checkStillStarting(rec); // stopped meanwhile: its run dir and processes are being removed
      // Xvnc exited: another X server may have taken the number between our check and its lock.
      const log = readFileSync(p.xvncLog, 'utf8');
      cleanStaleDisplay(display, rec.xvnc.pid, pidAlive);
      if (displayWasTaken(log) && attempt < MAX_DISPLAY_ATTEMPTS) {
        this.log.info({ session: rec.session.id, display }, 'display taken meanwhile, trying another');
        continue;
      }
      throw new StartFailure('XvncFailed', `The display server (Xvnc) exited while starting. Last log lines: ${logTail(p.xvncLog)}`);
    }
  }

  private startDesktop(rec: LocalSessionRecord, template: LocalTemplate): void {
    this.checkStillStarting(rec);
    const p = this.paths(rec);
    const me = userInfo();
    const env: NodeJS.ProcessEnv = {
      // A fresh environment: nothing of the agent's (tokens, keys) leaks into the desktop.
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: process.env.LANG ?? 'C.UTF-8',
      HOME: p.home,
      USER: me.username,
      LOGNAME: me.username,
      SHELL: me.shell ?? '/bin/sh',
      DISPLAY: `:${rec.display}`,
      XAUTHORITY: p.xauthority,
      XDG_RUNTIME_DIR: p.xdgRuntime,
      XDG_SESSION_TYPE: 'x11',
      PORTHOLE_USER: rec.session.user,
      PORTHOLE_SESSION: rec.session.id,
      PORTHOLE_RUN_DIR: p.run,
    };
    rec.desktop = spawnDetached(['/bin/sh', p.desktopScript], { cwd: p.home, env, logFile: p.desktopLog });
    this.setPhase(rec, 'Starting', { message: `Starting ${template.spec.displayName}` });
  }

  private async waitUntilReady(rec: LocalSessionRecord, cookie: Buffer, deadline: number): Promise<void> {
    const p = this.paths(rec);
    for (;;) {
      this.checkStillStarting(rec);
      if (!isOurs(rec.xvnc)) throw new StartFailure('XvncFailed', `The display server (Xvnc) exited while starting. Last log lines: ${logTail(p.xvncLog)}`);
      if (!isOurs(rec.desktop)) throw new StartFailure('DesktopFailed', `The desktop's programs exited while starting. Last log lines: ${logTail(p.desktopLog) || '(none)'}`);
      const [vnc, x] = await Promise.all([vncSocketAnswers(p.vncSocket), probeX11(rec.display!, cookie)]);
      this.checkStillStarting(rec);
      if (vnc && x === 'wm') return;
      this.checkDeadline(deadline, vnc ? 'no window manager appeared' : 'the VNC server did not answer', p.desktopLog);
      await sleep(100);
    }
  }

  // ---- watching and ending -----------------------------------------------------------------

  private watch(): void {
    if (this.closing) return;
    for (const rec of this.records.values()) {
      if (rec.session.phase !== 'Running' || this.ending.has(rec.session.id)) continue;
      const verdict = this.health(rec);
      if (verdict) this.endWith(rec, verdict);
    }
  }

  /** undefined while healthy; otherwise how the session ended. */
  private health(rec: LocalSessionRecord): { phase: 'Stopped' | 'Failed'; reason?: string; message: string } | undefined {
    const p = this.paths(rec);
    const xAlive = isOurs(rec.xvnc);
    const dAlive = isOurs(rec.desktop);
    if (xAlive && dAlive) return undefined;
    // Xvnc dying takes the programs with it, so check it first: it is the cause, not a symptom.
    if (!xAlive) {
      const tail = logTail(p.xvncLog, 3);
      return { phase: 'Failed', reason: 'Crashed', message: `The desktop's display server (Xvnc) stopped unexpectedly${tail ? `. Last log lines: ${tail}` : ''}. Start the desktop again; files in your home folder are kept.` };
    }
    let status: number | undefined;
    try {
      status = Number.parseInt(readFileSync(p.desktopExit, 'utf8').trim(), 10);
    } catch {
      status = undefined;
    }
    if (status !== undefined && Number.isInteger(status) && status < 128) {
      return { phase: 'Stopped', message: 'The desktop ended because its programs exited (the last window was closed or you logged out).' };
    }
    const tail = logTail(p.desktopLog, 3);
    const how = status !== undefined && Number.isInteger(status) ? `was killed (signal ${status - 128})` : 'were killed';
    return { phase: 'Failed', reason: 'Crashed', message: `The desktop's programs ${how}${tail ? `. Last log lines: ${tail}` : ''}. Start the desktop again; files in your home folder are kept.` };
  }

  private fail(rec: LocalSessionRecord, reason: string, message: string): void {
    this.endWith(rec, { phase: 'Failed', reason, message });
  }

  /** Record the outcome at once (people see it within a poll), then clean up processes and run dir. */
  private endWith(rec: LocalSessionRecord, outcome: { phase: 'Stopped' | 'Failed'; reason?: string; message: string }): void {
    if (this.ending.has(rec.session.id)) return;
    this.setPhase(rec, outcome.phase, { reason: outcome.reason, message: outcome.message });
    this.log.info({ session: rec.session.id, phase: outcome.phase, reason: outcome.reason }, outcome.message);
    void this.endProcesses(rec);
  }

  /** Stops both process groups, frees the display, removes the run dir (the home stays). */
  private endProcesses(rec: LocalSessionRecord, then?: () => void): Promise<void> {
    const id = rec.session.id;
    const existing = this.ending.get(id);
    if (existing) return existing;
    const work = (async () => {
      try {
        await stopGroups([rec.desktop, rec.xvnc], this.stopGraceMs, `PORTHOLE_SESSION=${id}`);
        if (rec.display !== undefined && rec.xvnc) cleanStaleDisplay(rec.display, rec.xvnc.pid, pidAlive);
        rmSync(rec.runDir, { recursive: true, force: true });
      } catch (error) {
        this.log.warn({ session: id, err: error }, 'cleanup after desktop end was incomplete');
      } finally {
        this.ending.delete(id);
        then?.();
      }
    })();
    this.ending.set(id, work);
    return work;
  }

  /** On init: take over what still runs, settle what does not. */
  private adopt(rec: LocalSessionRecord): void {
    const id = rec.session.id;
    const both = isOurs(rec.xvnc) && isOurs(rec.desktop);
    if (rec.session.phase === 'Running' && both) {
      this.log.info({ session: id, display: rec.display }, 'adopted running desktop');
      return; // the watcher takes it from here
    }
    if (rec.session.phase === 'Starting' && both) {
      this.log.info({ session: id }, 'resuming the start of a desktop');
      void this.resumeStart(rec);
      return;
    }
    if (rec.session.phase === 'Stopping') {
      void this.endProcesses(rec, () => this.setPhase(rec, 'Stopped', { message: 'The desktop was stopped. Files in your home folder are kept.' }));
      return;
    }
    const message =
      rec.session.phase === 'Running'
        ? 'The desktop stopped while the agent was down. Start it again; files in your home folder are kept.'
        : 'The agent restarted while the desktop was starting. Start it again.';
    this.endWith(rec, { phase: 'Failed', reason: rec.session.phase === 'Running' ? 'Crashed' : 'Interrupted', message });
  }

  private async resumeStart(rec: LocalSessionRecord): Promise<void> {
    const template = this.local.find((t) => t.spec.name === rec.session.template);
    const cookie = (() => {
      try {
        return cookieFromXauthority(readFileSync(this.paths(rec).xauthority));
      } catch {
        return undefined;
      }
    })();
    try {
      if (!template || !cookie) throw new StartFailure('Interrupted', 'The agent restarted while the desktop was starting. Start it again.');
      await this.waitUntilReady(rec, cookie, Date.now() + this.startTimeoutMs);
      rec.session.startedAt = now();
      this.setPhase(rec, 'Running', {});
    } catch (error) {
      if (error instanceof StartAbandoned) return;
      const failure = error instanceof StartFailure ? error : new StartFailure('StartError', (error as Error).message);
      this.fail(rec, failure.reason, failure.message);
    }
  }

  // ---- bookkeeping ---------------------------------------------------------------------------

  private detectTemplates(): void {
    this.local = builtInTemplates((program) => findProgram(program, this.opts.searchPath) !== undefined);
  }

  private assertOpen(): void {
    if (!this.initialised) throw new RuntimeError('not_ready', 'The local runtime is not initialised yet');
    if (this.closing) throw new RuntimeError('not_ready', 'The local runtime is shutting down');
  }

  private setPhase(rec: LocalSessionRecord, phase: SessionPhase, detail: { message?: string; reason?: string }): void {
    if (rec.session.phase !== phase) rec.session.phaseSince = now();
    rec.session.phase = phase;
    rec.session.message = detail.message;
    rec.session.reason = detail.reason;
    if (detail.message === undefined) delete rec.session.message;
    if (detail.reason === undefined) delete rec.session.reason;
    if (phase === 'Stopped' || phase === 'Failed') rec.session.connectedClients = 0;
    this.changed(rec);
  }

  /** Persist and tell listeners. After close() nothing is written: the next agent owns the file. */
  private changed(rec: LocalSessionRecord): void {
    if (this.closed) return;
    this.save();
    this.emit('session', this.view(rec));
  }

  private save(): void {
    const records = pruneFinished([...this.records.values()], Date.now());
    if (records.length !== this.records.size) this.records = new Map(records.map((r) => [r.session.id, r]));
    saveState(this.stateFile, { version: 1, sessions: records, startStats: this.stats });
  }

  private view(rec: LocalSessionRecord): Session {
    const session: Session = structuredClone(rec.session);
    const stat = this.stats[rec.session.template];
    if (stat) session.expectedStartSeconds = expectedSeconds(stat);
    return session;
  }
}
