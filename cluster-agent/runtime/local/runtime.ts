/**
 * The local runtime: each session is a set of processes with roles (the display, Xvnc; the desktop,
 * window manager and programs; the streamer; the audio, a sound server with a null sink), each in a
 * bubblewrap sandbox of its own that outlives the agent.
 * State lives in `<dataDir>/local-sessions.json`; a new agent adopts what still runs. Liveness is polled
 * from /proc about once a second. With `isolation: 'shared'` (--unsafe-shared-desktops) the same
 * processes run unsandboxed as the agent's user, as before sandboxes existed.
 */
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import { UserName, type Session, type SessionPhase } from '../../contract/index.js';
import { vncPasswordFile } from '../../vnc/des.js';
import { stopVerdict } from '../stop-expectation.js';
import { RuntimeError, type Runtime, type StartResult, type StopExpectation, type StreamEndpoints, type StreamProtocol, type TemplateSpec, type VncEndpoint, type WebRtcEndpoint } from '../types.js';
import { lockDataDir, unlockDataDir } from './data-dir-lock.js';
import { DEFAULT_DESKTOP_UIDS, DesktopAccounts, type UidRange } from './desktop-accounts.js';
import { cleanStaleDisplay, releaseDisplay, reserveDisplay } from './displays.js';
import { newSessionId, newStreamerSecret, newVncPassword, newXCookie } from './ids.js';
import { isOurs, pidAlive, spawnDetached, spawnSandboxed, stopGroups, stopSandboxes, type ProcessRef } from './processes.js';
import { probeX11, vncSocketAnswers } from './probes.js';
import { accountFiles, bwrapArgs, type Bind, type SandboxIdentity } from './sandbox.js';
import { probeSandbox, SYSTEM_PATH, type SandboxSupport } from './sandbox-host.js';
import { prepareRunDir, SANDBOX_DISPLAY, sessionLayout, writeOwnedFile, type Owner, type SessionLayout } from './session-layout.js';
import { addStartSample, expectedSeconds, type StartStats } from './start-stats.js';
import { loadState, pruneFinished, saveState, type LocalSessionRecord, type Role } from './state-store.js';
import { AUDIO_SOCKET, MONITOR_SOURCE, pulseaudioArgv, pulseServer } from './sound-server.js';
import { builtInTemplates, desktopScript, findProgram, type LocalTemplate } from './templates.js';
import { displayWasTaken, xvncArgv } from './xvnc.js';
import { cookieFromXauthority, xauthorityEntry } from './xauthority.js';
import { ensureDir } from './dirs.js';

export interface LocalRuntimeOptions {
  dataDir: string;
  logger?: Logger;
  /** from create to Running; default 45 s (XFCE on a busy machine is slow) */
  startTimeoutMs?: number;
  /** where programs are looked up; default the system directories (sandbox) or $PATH (shared). Directories outside /usr, /etc and /opt are bound read-only into the sandboxes. */
  searchPath?: string;
  /** how often live desktops are checked; default 1000 ms */
  watchIntervalMs?: number;
  /** SIGTERM -> SIGKILL grace when stopping; default 2000 ms */
  stopGraceMs?: number;
  /** 'sandbox' (default): every desktop in bubblewrap sandboxes; 'shared': no isolation (--unsafe-shared-desktops) */
  isolation?: 'sandbox' | 'shared';
  /** when the agent is root: the uids people's desktops run as, one per person; default 3000000-3099999 */
  desktopUids?: UidRange;
  /** host paths no desktop may see even if they lie in a system directory (the agent's data dir, users file, config) */
  hiddenPaths?: string[];
  /** the built WebRTC streamer (dist/streamer) and the node that runs it; without it desktops stream VNC only */
  /** the built WebRTC streamer; `codecs`: what it may encode (its default: h264, vp9, vp8) */
  streamer?: { dir: string; node: string; codecs?: readonly string[] };
}

const LIVE: ReadonlySet<SessionPhase> = new Set(['Pending', 'Starting', 'Running', 'Stopping']);
const MAX_DISPLAY_ATTEMPTS = 5;
/** A streamer or sound server that died is started again, at most this often (VNC keeps working meanwhile). */
const STREAMER_RESTART_MS = 5_000;
/** How long the desktop's programs wait for a just-started sound server's socket (they start without sound otherwise). */
const AUDIO_SOCKET_WAIT_MS = 3_000;
/** Said to viewers when this machine has no sound server to give desktops. */
const NO_PULSEAUDIO = 'Desktops on this machine have no sound: PulseAudio is not installed (run `sudo apt-get install pulseaudio`).';
/** How long a WebRTC viewer may wait for a just-started streamer's socket. */
const STREAMER_SOCKET_WAIT_MS = 5_000;
/** sockaddr_un.sun_path is 108 bytes including the NUL */
const MAX_SOCKET_PATH = 107;

export const SHARED_WARNING =
  'Desktops on this machine are not isolated (the agent was started with --unsafe-shared-desktops): programs in them run as the agent\'s user and can read its keys, other people\'s files and each other\'s desktops.';

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

function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? error);
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
  private readonly isolation: 'sandbox' | 'shared';
  private readonly searchPath: string;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly accounts: DesktopAccounts;
  private sandbox: SandboxSupport | undefined;
  private records = new Map<string, LocalSessionRecord>();
  private stats: StartStats = {};
  private local: LocalTemplate[] = [];
  /** ids whose processes are being ended (stop or failure cleanup); stop() joins these */
  private ending = new Map<string, Promise<void>>();
  /** run dirs whose removal failed (the disk refused); retried on every watch */
  private leftovers = new Set<string>();
  /** the state file could not be written: what went wrong, since when. Cleared by the next good save. */
  private persistFault: { message: string; since: string } | undefined;
  /** when each session's streamer and sound server were last started (by `role:id`), so a crashing one is not restarted in a loop */
  private helperStarts = new Map<string, number>();
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
    this.isolation = opts.isolation ?? 'sandbox';
    this.searchPath = opts.searchPath ?? (this.isolation === 'sandbox' ? SYSTEM_PATH : (process.env.PATH ?? SYSTEM_PATH));
    const dropUids = this.asRoot && this.isolation === 'sandbox';
    this.accounts = new DesktopAccounts(this.homesDir, dropUids ? (opts.desktopUids ?? DEFAULT_DESKTOP_UIDS) : undefined);
  }

  // ---- Runtime interface -------------------------------------------------------------------

  async init(): Promise<void> {
    if (this.initialised) return;
    for (const dir of [this.opts.dataDir, this.homesDir, this.runRoot]) {
      ensureDir(dir);
      chmodSync(dir, 0o700);
    }
    lockDataDir(this.opts.dataDir);
    if (this.isolation === 'sandbox') {
      this.sandbox = probeSandbox(this.asRoot, (this.opts.desktopUids ?? DEFAULT_DESKTOP_UIDS).first, this.searchPath);
      if (!this.sandbox.ok) this.log.error(this.sandbox.reason);
    } else {
      this.log.warn(SHARED_WARNING);
    }
    this.accounts.load();
    this.detectTemplates();
    const { state, problem } = loadState(this.stateFile);
    if (problem) this.log.warn(problem);
    this.stats = state.startStats;
    for (const rec of state.sessions) this.records.set(rec.session.id, rec);
    for (const rec of this.records.values()) if (LIVE.has(rec.session.phase)) this.adopt(rec);
    saveState(this.stateFile, this.stateToSave()); // at start-up a data dir that cannot be written is fatal, said by the caller
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
    this.assertPersisting();

    let id = newSessionId();
    while (this.records.has(id)) id = newSessionId();
    const at = now();
    const rec: LocalSessionRecord = {
      session: { id, user, template: templateName, phase: 'Pending', message: 'Preparing the desktop', createdAt: at, phaseSince: at, connectedClients: 0 },
      runDir: join(this.runRoot, id),
      isolation: this.isolation,
      processes: {},
    };
    this.records.set(id, rec);
    // Nothing starts that the state file does not know of: a desktop it never recorded could not be adopted or stopped.
    if (!this.save()) {
      this.records.delete(id);
      throw this.persistError();
    }
    this.emit('session', this.view(rec));
    this.log.info({ session: id, user, template: templateName }, 'starting desktop');
    void this.start(rec, template);
    return { session: this.view(rec), created: true };
  }

  async stop(id: string, reason?: string, expect: StopExpectation = {}): Promise<void> {
    if (this.closing) throw new RuntimeError('not_ready', 'The local runtime is shutting down');
    const rec = this.records.get(id);
    if (!rec) throw new RuntimeError('not_found', `There is no session "${id}"`);
    const pending = this.ending.get(id);
    if (pending) return pending;
    if (!LIVE.has(rec.session.phase)) return;
    const verdict = stopVerdict(this.view(rec), expect, Date.now());
    if (verdict !== 'stop') {
      this.log.info({ session: id }, verdict === 'replaced' ? 'not stopping: the session was replaced by a new one' : 'not stopping: the session is no longer idle');
      return;
    }
    this.assertPersisting();
    const before = structuredClone(rec.session);
    this.applyPhase(rec, 'Stopping', { message: reason ?? 'Stopping the desktop' });
    if (!this.save()) {
      rec.session = before; // not recorded: leave the desktop as it was rather than half-stopped
      throw this.persistError();
    }
    this.emit('session', this.view(rec));
    await this.endProcesses(rec, () => this.setPhase(rec, 'Stopped', { message: reason ?? 'The desktop was stopped. Files in your home folder are kept.' }));
  }

  async streamEndpoint<P extends StreamProtocol>(id: string, protocol: P): Promise<StreamEndpoints[P]> {
    if (protocol === 'webrtc') return (await this.webrtcEndpoint(id)) as StreamEndpoints[P];
    return (await this.vncEndpoint(id)) as StreamEndpoints[P];
  }

  private async webrtcEndpoint(id: string): Promise<WebRtcEndpoint> {
    const rec = this.records.get(id);
    if (!rec) throw new RuntimeError('not_found', `There is no session "${id}"`);
    if (!this.opts.streamer) throw new RuntimeError('unavailable', 'this agent has no WebRTC streamer: npm run build:streamer');
    if (rec.session.phase !== 'Running') throw new RuntimeError('not_ready', `The desktop ${id} is ${rec.session.phase}, not Running: it cannot be viewed now`);
    const p = this.layout(rec);
    // A streamer that has just been started needs a moment to listen.
    const deadline = Date.now() + STREAMER_SOCKET_WAIT_MS;
    while (!existsSync(p.streamerSocket)) {
      if (Date.now() > deadline || !isOurs(rec.processes.streamer)) {
        const tail = logTail(join(rec.runDir, 'streamer.log'), 2);
        throw new RuntimeError('not_ready', `The desktop's streamer is not running${tail ? ` (${tail})` : ''}; use VNC`);
      }
      await sleep(25);
    }
    let secret: string;
    try {
      secret = readFileSync(p.streamerSecret, 'utf8').trim();
    } catch {
      throw new RuntimeError('not_ready', `The desktop ${id} is ending: it cannot be viewed now`);
    }
    return { kind: 'unix', path: p.streamerSocket, secret };
  }

  private async vncEndpoint(id: string): Promise<VncEndpoint> {
    const rec = this.records.get(id);
    if (!rec) throw new RuntimeError('not_found', `There is no session "${id}"`);
    if (rec.session.phase !== 'Running') {
      throw new RuntimeError('not_ready', `The desktop ${id} is ${rec.session.phase}, not Running: it cannot be viewed now`);
    }
    const layout = this.layout(rec);
    let password: string;
    try {
      password = readFileSync(layout.password, 'utf8');
    } catch {
      throw new RuntimeError('not_ready', `The desktop ${id} is ending: it cannot be viewed now`);
    }
    return { kind: 'unix', path: layout.vncSocket, password };
  }

  async setConnectedClients(id: string, count: number): Promise<void> {
    const rec = this.records.get(id);
    if (!rec) return; // a stream closing after its session was pruned: nothing to record
    rec.session.connectedClients = Math.max(0, Math.floor(count));
    rec.session.lastActiveAt = now();
    this.changed(rec);
  }

  healthy(): { ok: boolean; message: string } {
    if (this.persistFault) return { ok: false, message: this.persistError().message };
    return { ok: true, message: 'ready' };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true; // refuse new starts; starts under way leave their desktops for the next agent
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Let cleanups already under way finish (and be recorded) so no half-stopped desktop is left.
    await Promise.allSettled([...this.ending.values()]);
    if (this.persistFault) this.save(); // one last try; the next agent adopts from whatever was written
    this.closed = true;
    if (this.initialised) unlockDataDir(this.opts.dataDir);
  }

  // ---- starting ------------------------------------------------------------------------------

  private layout(rec: LocalSessionRecord): SessionLayout {
    return sessionLayout(rec.runDir, join(this.homesDir, rec.session.user), rec.session.user, rec.isolation === 'sandbox');
  }

  private owner(rec: LocalSessionRecord): Owner {
    return rec.isolation === 'sandbox' && this.accounts.dropsPrivileges && rec.uid !== undefined ? { uid: rec.uid, gid: rec.uid } : undefined;
  }

  private async start(rec: LocalSessionRecord, template: LocalTemplate): Promise<void> {
    const deadline = Date.parse(rec.session.createdAt) + this.startTimeoutMs;
    try {
      const p = this.layout(rec);
      if (p.vncSocket.length > MAX_SOCKET_PATH) {
        throw new StartFailure('DataDirTooLong', `The data directory path is too long for a socket (${p.vncSocket}): use a shorter --data-dir`);
      }
      const xvnc = findProgram('Xvnc', this.searchPath);
      if (!xvnc) throw new StartFailure('NotInstalled', 'Xvnc is not installed on this machine: run `sudo apt-get install tigervnc-standalone-server`');
      const account = this.accounts.accountFor(rec.session.user);
      if (this.accounts.dropsPrivileges && rec.isolation === 'sandbox') rec.uid = account.uid;
      const owner = this.owner(rec);
      prepareRunDir(p, owner, rec.isolation === 'sandbox');
      const password = newVncPassword();
      writeFileSync(p.password, password, { mode: 0o600 });
      writeOwnedFile(join(p.displayDir, 'vnc.passwd'), vncPasswordFile(password), owner);
      writeOwnedFile(join(p.desktopDir, 'desktop.sh'), desktopScript(template), owner, 0o700);
      if (rec.isolation === 'sandbox') {
        const files = accountFiles(rec.session.user, account.uid, account.gid, p.inside.home, this.loginShell());
        writeOwnedFile(join(p.desktopDir, 'passwd'), files.passwd, owner, 0o644);
        writeOwnedFile(join(p.desktopDir, 'group'), files.group, owner, 0o644);
      }

      const cookie = newXCookie();
      if (this.opts.streamer) writeOwnedFile(p.streamerSecret, newStreamerSecret(), owner);
      await this.startDisplay(rec, template, xvnc, cookie, deadline);
      // The sound server first, so the programs find it when they start; no sound is no reason to fail.
      await this.startAudio(rec, true).catch((err: Error) => this.log.warn({ session: rec.session.id, err }, 'the sound server did not start; no sound'));
      // The streamer starts beside the desktop's programs; the desktop is Running without waiting for it.
      await this.startStreamer(rec).catch((err: Error) => this.log.warn({ session: rec.session.id, err }, 'the streamer did not start; VNC only'));
      await this.startDesktop(rec, template);
      await this.waitUntilReady(rec, cookie, deadline);

      const seconds = (Date.now() - Date.parse(rec.session.createdAt)) / 1000;
      this.stats[template.spec.name] = addStartSample(this.stats[template.spec.name], seconds);
      rec.session.startedAt = now();
      this.setPhase(rec, 'Running', {});
      this.log.info({ session: rec.session.id, seconds, display: rec.display, isolation: rec.isolation, uid: rec.uid }, 'desktop running');
    } catch (error) {
      if (error instanceof StartAbandoned) return;
      const failure = error instanceof StartFailure ? error : new StartFailure('StartError', `The desktop could not start: ${(error as Error).message}`);
      this.log.warn({ session: rec.session.id, reason: failure.reason }, failure.message);
      this.fail(rec, failure.reason, failure.message);
    }
  }

  /** The start goes on only while the session is still starting, the runtime open and its state recorded. */
  private checkStillStarting(rec: LocalSessionRecord): void {
    if (this.closing || (rec.session.phase !== 'Pending' && rec.session.phase !== 'Starting')) throw new StartAbandoned();
    if (this.persistFault) {
      throw new StartFailure('StateNotSaved', `The desktop was not started: the agent cannot record it in its data directory (${this.persistFault.message}). Start it again once the disk is writable.`);
    }
  }

  private checkDeadline(deadline: number, what: string, log: string): void {
    if (Date.now() <= deadline) return;
    const tail = logTail(log);
    throw new StartFailure('Timeout', `The desktop did not start within ${seconds(this.startTimeoutMs)} seconds (${what}).${tail ? ` Last log lines: ${tail}` : ''}`);
  }

  /** Who a sandbox's programs run as: the person's uid (agent is root), or the agent's uid in a user namespace. */
  private identity(rec: LocalSessionRecord): SandboxIdentity {
    const sandbox = this.sandbox;
    if (!sandbox?.ok) throw new StartFailure('SandboxUnavailable', sandbox && !sandbox.ok ? sandbox.reason : 'The sandbox was not set up');
    if (this.accounts.dropsPrivileges) {
      if (rec.uid === undefined || !sandbox.setpriv) throw new StartFailure('StartError', 'The desktop has no uid of its own to run as');
      return { kind: 'root-drop', uid: rec.uid, gid: rec.uid, setpriv: sandbox.setpriv };
    }
    return { kind: 'userns' };
  }

  /** Starts one role's process: in its sandbox, or (shared) as a plain detached process. */
  private async launch(
    rec: LocalSessionRecord,
    role: Role,
    spec: { argv: string[]; env: Record<string, string>; cwd: string; logFile: string; binds: Bind[]; files?: Array<{ host: string; inside: string }>; network?: boolean; programDirs?: string[] },
  ): Promise<ProcessRef> {
    if (rec.isolation === 'shared') return spawnDetached(spec.argv, { cwd: spec.cwd, env: spec.env, logFile: spec.logFile });
    const sandbox = this.sandbox;
    if (!sandbox?.ok) throw new StartFailure('SandboxUnavailable', sandbox && !sandbox.ok ? sandbox.reason : 'The sandbox was not set up');
    const { options, command } = bwrapArgs({
      identity: this.identity(rec),
      system: sandbox.layout,
      binds: spec.binds,
      files: spec.files ?? [],
      hidden: [this.opts.dataDir, ...(this.opts.hiddenPaths ?? [])],
      programDirs: [...this.searchPath.split(delimiter).filter(Boolean), ...(spec.programDirs ?? [])],
      network: spec.network ?? false,
      hostname: 'porthole',
      env: spec.env,
      cwd: spec.cwd,
      argv: spec.argv,
    });
    try {
      return await spawnSandboxed({ bwrap: sandbox.bwrap, options, command, workDir: rec.runDir, role, logFile: spec.logFile });
    } catch (error) {
      throw new StartFailure('SandboxFailed', `The desktop's sandbox could not be set up: ${(error as Error).message}`);
    }
  }

  private async startDisplay(rec: LocalSessionRecord, template: LocalTemplate, xvnc: string, cookie: Buffer, deadline: number): Promise<void> {
    const p = this.layout(rec);
    const sandboxed = rec.isolation === 'sandbox';
    const owner = this.owner(rec);
    for (let attempt = 1; ; attempt++) {
      this.checkStillStarting(rec);
      // In a sandbox the display has its own /tmp and network: it is always :0, nothing to race for.
      const display = sandboxed ? SANDBOX_DISPLAY : reserveDisplay();
      try {
        const auth = xauthorityEntry(display, cookie);
        for (const dir of [p.displayDir, p.desktopDir, p.streamerDir]) writeOwnedFile(join(dir, 'Xauthority'), auth, owner);
        rmSync(p.xvncLog, { force: true });
        const i = p.inside;
        const argv = xvncArgv(display, { xvnc, xauthority: join(i.displayDir, 'Xauthority'), passwordFile: join(i.displayDir, 'vnc.passwd'), vncSocket: join(i.vncDir, 'vnc.sock') }, `${rec.session.user}'s ${template.spec.displayName}`);
        rec.display = display;
        const ref = await this.launch(rec, 'display', {
          argv,
          env: { PATH: this.searchPath, LANG: process.env.LANG ?? 'C.UTF-8' },
          cwd: sandboxed ? '/' : p.run,
          logFile: p.xvncLog,
          binds: [
            { host: p.displayDir, inside: i.displayDir, writable: false },
            { host: p.vncDir, inside: i.vncDir, writable: true },
            { host: p.x11Dir, inside: i.x11Dir, writable: true },
          ],
        });
        rec.processes.display = ref;
        this.setPhase(rec, 'Starting', { message: 'Starting the display server' });
        for (;;) {
          await sleep(20);
          if (!isOurs(ref)) break;
          this.checkStillStarting(rec);
          if ((await probeX11(p.x11Socket(display), cookie)) !== 'no-server') return;
          this.checkDeadline(deadline, 'the display server did not accept connections', p.xvncLog);
        }
      } finally {
        if (!sandboxed) releaseDisplay(display);
      }
      this.checkStillStarting(rec); // stopped meanwhile: its run dir and processes are being removed
      // Xvnc exited: (shared) another X server may have taken the number between our check and its lock.
      const log = readFileSync(p.xvncLog, 'utf8');
      if (!sandboxed) {
        cleanStaleDisplay(display, rec.processes.display!.pid, pidAlive);
        if (displayWasTaken(log) && attempt < MAX_DISPLAY_ATTEMPTS) {
          this.log.info({ session: rec.session.id, display }, 'display taken meanwhile, trying another');
          continue;
        }
      }
      throw new StartFailure('XvncFailed', `The display server (Xvnc) exited while starting. Last log lines: ${logTail(p.xvncLog)}`);
    }
  }

  /** The streamer role: the host's network (WebRTC media goes straight to the viewer), the display's X socket, its own dir. */
  private async startStreamer(rec: LocalSessionRecord): Promise<void> {
    const streamer = this.opts.streamer;
    if (!streamer) return;
    const p = this.layout(rec);
    const i = p.inside;
    this.helperStarts.set(`streamer:${rec.session.id}`, Date.now());
    rmSync(p.streamerSocket, { force: true });
    const sound = this.soundFor(rec);
    rec.processes.streamer = await this.launch(rec, 'streamer', {
      argv: [
        streamer.node, join(streamer.dir, 'porthole-streamer.mjs'), '--listen-unix', join(i.streamerDir, 'signal.sock'), '--secret-file', join(i.streamerDir, 'secret'),
        ...(sound.ok ? ['--audio-server', sound.server, '--audio-device', MONITOR_SOURCE] : ['--audio-unavailable', sound.reason]),
        ...(streamer.codecs?.length ? ['--codecs', streamer.codecs.join(',')] : []),
      ],
      env: { PATH: this.searchPath, LANG: process.env.LANG ?? 'C.UTF-8', DISPLAY: `:${rec.display}`, XAUTHORITY: join(i.streamerDir, 'Xauthority'), HOME: i.streamerDir },
      cwd: rec.isolation === 'sandbox' ? '/' : p.run,
      logFile: join(rec.runDir, 'streamer.log'),
      binds: [
        { host: p.streamerDir, inside: i.streamerDir, writable: true },
        { host: p.x11Dir, inside: i.x11Dir, writable: false },
        ...(sound.ok ? [{ host: p.audioDir, inside: i.audioDir, writable: false }] : []),
      ],
      network: true,
      programDirs: [streamer.dir, dirname(streamer.node)],
    });
    this.changed(rec);
  }

  /** Whether this session's programs get a sound server, and its PULSE_SERVER as they see it. */
  private soundFor(rec: LocalSessionRecord): { ok: true; server: string } | { ok: false; reason: string } {
    if (!findProgram('pulseaudio', this.searchPath)) return { ok: false, reason: NO_PULSEAUDIO };
    const socket = join(this.layout(rec).inside.audioDir, AUDIO_SOCKET);
    if (socket.length > MAX_SOCKET_PATH) return { ok: false, reason: `This desktop has no sound: its socket path is too long (${socket}); use a shorter --data-dir.` };
    return { ok: true, server: pulseServer(socket) };
  }

  /**
   * The audio role: a PulseAudio server with a null sink, in a sandbox of its own (no network, only its
   * own dir, writable), so the desktop's programs can neither stop it nor see the streamer's files.
   * Not part of the desktop's health: a desktop without sound still works, and a dead one is restarted.
   */
  private async startAudio(rec: LocalSessionRecord, waitForSocket: boolean): Promise<void> {
    const pulseaudio = findProgram('pulseaudio', this.searchPath);
    if (!pulseaudio || !this.soundFor(rec).ok) return;
    const p = this.layout(rec);
    const i = p.inside;
    const socket = join(p.audioDir, AUDIO_SOCKET);
    this.helperStarts.set(`audio:${rec.session.id}`, Date.now());
    rmSync(socket, { force: true });
    rec.processes.audio = await this.launch(rec, 'audio', {
      argv: pulseaudioArgv(pulseaudio, join(i.audioDir, AUDIO_SOCKET)),
      // Its home and runtime dir are its own dir: PulseAudio keeps its state there, and it goes with the session.
      env: { PATH: this.searchPath, LANG: process.env.LANG ?? 'C.UTF-8', HOME: i.audioDir, XDG_RUNTIME_DIR: i.audioDir, XDG_CONFIG_HOME: join(i.audioDir, 'config') },
      cwd: rec.isolation === 'sandbox' ? '/' : p.run,
      logFile: p.audioLog,
      binds: [{ host: p.audioDir, inside: i.audioDir, writable: true }],
    });
    this.changed(rec);
    if (!waitForSocket) return;
    const deadline = Date.now() + AUDIO_SOCKET_WAIT_MS;
    while (!existsSync(socket) && Date.now() < deadline && isOurs(rec.processes.audio)) await sleep(20);
    if (!existsSync(socket)) this.log.warn({ session: rec.session.id, log: logTail(p.audioLog, 3) }, 'the sound server did not start; the desktop has no sound');
  }

  private loginShell(): string {
    return findProgram('bash', SYSTEM_PATH) ? '/bin/bash' : '/bin/sh';
  }

  private async startDesktop(rec: LocalSessionRecord, template: LocalTemplate): Promise<void> {
    this.checkStillStarting(rec);
    const p = this.layout(rec);
    const i = p.inside;
    const sandboxed = rec.isolation === 'sandbox';
    const me = userInfo();
    const uid = sandboxed ? (rec.uid ?? me.uid) : me.uid;
    // XDG_RUNTIME_DIR: the programs' own (0700, theirs), in the run dir so it goes with the session.
    const runtimeDir = sandboxed ? `/run/user/${uid}` : p.runtimeDir;
    const env: Record<string, string> = {
      // A fresh environment: nothing of the agent's (tokens, keys) leaks into the desktop.
      PATH: this.searchPath,
      LANG: process.env.LANG ?? 'C.UTF-8',
      HOME: i.home,
      USER: sandboxed ? rec.session.user : me.username,
      LOGNAME: sandboxed ? rec.session.user : me.username,
      SHELL: sandboxed ? this.loginShell() : (me.shell ?? '/bin/sh'),
      DISPLAY: `:${rec.display}`,
      XAUTHORITY: join(i.desktopDir, 'Xauthority'),
      XDG_RUNTIME_DIR: runtimeDir,
      XDG_SESSION_TYPE: 'x11',
      PORTHOLE_USER: rec.session.user,
      PORTHOLE_SESSION: rec.session.id,
      PORTHOLE_RUN_DIR: i.statusDir,
    };
    // The programs' sound goes to the session's own sound server (its null sink), never the machine's.
    const sound = this.soundFor(rec);
    if (sound.ok && rec.processes.audio) env.PULSE_SERVER = sound.server;
    rec.processes.desktop = await this.launch(rec, 'desktop', {
      argv: ['/bin/sh', join(i.desktopDir, 'desktop.sh')],
      env,
      cwd: i.home,
      logFile: p.desktopLog,
      binds: [
        { host: p.home, inside: i.home, writable: true },
        { host: p.desktopDir, inside: i.desktopDir, writable: false },
        { host: p.statusDir, inside: i.statusDir, writable: true },
        { host: p.x11Dir, inside: i.x11Dir, writable: false },
        { host: p.runtimeDir, inside: runtimeDir, writable: true },
        ...(env.PULSE_SERVER ? [{ host: p.audioDir, inside: i.audioDir, writable: false }] : []),
      ],
      files: [
        { host: join(p.desktopDir, 'passwd'), inside: '/etc/passwd' },
        { host: join(p.desktopDir, 'group'), inside: '/etc/group' },
      ],
    });
    this.setPhase(rec, 'Starting', { message: `Starting ${template.spec.displayName}` });
  }

  private async waitUntilReady(rec: LocalSessionRecord, cookie: Buffer, deadline: number): Promise<void> {
    const p = this.layout(rec);
    for (;;) {
      this.checkStillStarting(rec);
      if (!isOurs(rec.processes.display)) throw new StartFailure('XvncFailed', `The display server (Xvnc) exited while starting. Last log lines: ${logTail(p.xvncLog)}`);
      if (!isOurs(rec.processes.desktop)) throw new StartFailure('DesktopFailed', `The desktop's programs exited while starting. Last log lines: ${logTail(p.desktopLog) || '(none)'}`);
      const [vnc, x] = await Promise.all([vncSocketAnswers(p.vncSocket), probeX11(p.x11Socket(rec.display!), cookie)]);
      this.checkStillStarting(rec);
      if (vnc && x === 'wm') return;
      this.checkDeadline(deadline, vnc ? 'no window manager appeared' : 'the VNC server did not answer', p.desktopLog);
      await sleep(25);
    }
  }

  // ---- watching and ending -----------------------------------------------------------------

  private watch(): void {
    if (this.closing) return;
    if (this.persistFault && this.save()) this.log.info({ file: this.stateFile }, 'the state file can be written again');
    for (const dir of this.leftovers) this.removeRunDir(dir);
    for (const rec of this.records.values()) {
      if (rec.session.phase !== 'Running' || this.ending.has(rec.session.id)) continue;
      const verdict = this.health(rec);
      if (verdict) {
        this.endWith(rec, verdict);
        continue;
      }
      const due = (role: 'streamer' | 'audio') => !isOurs(rec.processes[role]) && Date.now() - (this.helperStarts.get(`${role}:${rec.session.id}`) ?? 0) > STREAMER_RESTART_MS;
      if (this.opts.streamer && due('streamer')) {
        this.log.warn({ session: rec.session.id, log: logTail(join(rec.runDir, 'streamer.log'), 3) }, 'the streamer is not running; starting it again');
        void this.startStreamer(rec).catch((err: Error) => this.log.warn({ session: rec.session.id, err }, 'the streamer did not start'));
      }
      // Only a session that had a sound server gets it back (the desktop's programs were told where it is).
      if (rec.processes.audio && due('audio')) {
        this.log.warn({ session: rec.session.id, log: logTail(this.layout(rec).audioLog, 3) }, 'the sound server is not running; starting it again');
        void this.startAudio(rec, false).catch((err: Error) => this.log.warn({ session: rec.session.id, err }, 'the sound server did not start'));
      }
    }
  }

  /** undefined while healthy; otherwise how the session ended. */
  private health(rec: LocalSessionRecord): { phase: 'Stopped' | 'Failed'; reason?: string; message: string } | undefined {
    const p = this.layout(rec);
    const xAlive = isOurs(rec.processes.display);
    const dAlive = isOurs(rec.processes.desktop);
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

  /** Stops every role's processes, frees the display, removes the run dir (the home stays). */
  private endProcesses(rec: LocalSessionRecord, then?: () => void): Promise<void> {
    const id = rec.session.id;
    const existing = this.ending.get(id);
    if (existing) return existing;
    const { display, desktop, streamer, audio } = rec.processes;
    const work = (async () => {
      try {
        if (rec.isolation === 'sandbox') {
          await stopSandboxes([desktop, streamer, audio, display], this.stopGraceMs);
        } else {
          await stopGroups([desktop, streamer, audio, display], this.stopGraceMs, `PORTHOLE_SESSION=${id}`);
          if (rec.display !== undefined && display) cleanStaleDisplay(rec.display, display.pid, pidAlive);
        }
        this.removeRunDir(rec.runDir);
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

  private removeRunDir(dir: string): void {
    try {
      rmSync(dir, { recursive: true, force: true });
      this.leftovers.delete(dir);
    } catch (error) {
      if (!this.leftovers.has(dir)) this.log.warn({ dir, err: error }, 'could not remove a run dir; retrying');
      this.leftovers.add(dir);
    }
  }

  /** On init: take over what still runs, settle what does not. */
  private adopt(rec: LocalSessionRecord): void {
    const id = rec.session.id;
    const both = isOurs(rec.processes.display) && isOurs(rec.processes.desktop);
    if (rec.session.phase === 'Running' && both) {
      this.log.info({ session: id, display: rec.display, isolation: rec.isolation }, 'adopted running desktop');
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
        return cookieFromXauthority(readFileSync(join(this.layout(rec).displayDir, 'Xauthority')));
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
    const templates = builtInTemplates((program) => findProgram(program, this.searchPath) !== undefined);
    const sandbox = this.sandbox;
    for (const t of templates) {
      if (this.opts.streamer) t.spec.protocols = ['webrtc', 'vnc'];
      if (this.isolation === 'shared') t.spec.warning = SHARED_WARNING;
      else if (sandbox && !sandbox.ok) {
        t.spec.available = false;
        t.spec.unavailableReason = sandbox.reason;
      }
    }
    this.local = templates;
  }

  private assertOpen(): void {
    if (!this.initialised) throw new RuntimeError('not_ready', 'The local runtime is not initialised yet');
    if (this.closing) throw new RuntimeError('not_ready', 'The local runtime is shutting down');
  }

  private persistError(): RuntimeError {
    const fault = this.persistFault;
    return new RuntimeError(
      'unavailable',
      `The agent cannot write to its data directory (${fault?.message ?? 'unknown error'}, since ${fault?.since ?? 'now'}): starting and stopping desktops waits until it can. Desktops that are running keep running.`,
    );
  }

  /** Refuse work that would have to be recorded while the state file cannot be written (after one more try). */
  private assertPersisting(): void {
    if (this.persistFault && !this.save()) throw this.persistError();
  }

  private setPhase(rec: LocalSessionRecord, phase: SessionPhase, detail: { message?: string; reason?: string }): void {
    this.applyPhase(rec, phase, detail);
    this.changed(rec);
  }

  private applyPhase(rec: LocalSessionRecord, phase: SessionPhase, detail: { message?: string; reason?: string }): void {
    if (rec.session.phase !== phase) rec.session.phaseSince = now();
    rec.session.phase = phase;
    rec.session.message = detail.message;
    rec.session.reason = detail.reason;
    if (detail.message === undefined) delete rec.session.message;
    if (detail.reason === undefined) delete rec.session.reason;
    if (phase === 'Stopped' || phase === 'Failed') rec.session.connectedClients = 0;
  }

  /** Persist and tell listeners. After close() nothing is written: the next agent owns the file. */
  private changed(rec: LocalSessionRecord): void {
    if (this.closed) return;
    this.save();
    this.emit('session', this.view(rec));
  }

  private stateToSave() {
    const records = pruneFinished([...this.records.values()], Date.now());
    if (records.length !== this.records.size) this.records = new Map(records.map((r) => [r.session.id, r]));
    return { version: 2 as const, sessions: records, startStats: this.stats };
  }

  /** Writes the state file; false (and remembered for /readyz) when the disk refuses. Never throws. */
  private save(): boolean {
    if (this.closed) return false;
    try {
      saveState(this.stateFile, this.stateToSave());
      this.persistFault = undefined;
      return true;
    } catch (error) {
      if (!this.persistFault) {
        this.persistFault = { message: describeFsError(error), since: now() };
        this.log.error({ file: this.stateFile, err: error }, 'cannot write the state file; desktops keep running, starts and stops wait');
      }
      return false;
    }
  }

  private view(rec: LocalSessionRecord): Session {
    const session: Session = structuredClone(rec.session);
    const stat = this.stats[rec.session.template];
    if (stat) session.expectedStartSeconds = expectedSeconds(stat);
    return session;
  }
}
