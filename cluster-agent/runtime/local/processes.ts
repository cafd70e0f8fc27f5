/**
 * Desktop processes outlive the agent, so we track them by PID and check identity through /proc
 * (a PID can be reused; the command line we started cannot be, it names the session's run dir).
 * Node has no pidfd, so liveness is polled.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  /** the exact argv we started, compared with /proc/PID/cmdline */
  argv: string[];
  /** start time (clock ticks since boot, /proc/PID/stat): with the PID, names one process for the whole boot */
  startTime?: number;
  /** sandboxed: the pid namespace (`pid:[inode]`) whose init this is; every process of the sandbox lives in it */
  pidNs?: string;
}

/** Pure: /proc/PID/cmdline content -> argv (NUL-separated, trailing NUL). */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** undefined when no such process; [] for zombies and kernel threads. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    return parseCmdline(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Alive and still the process we started (not a zombie, not a reused PID). */
export function isOurs(ref: ProcessRef | undefined): boolean {
  if (!ref) return false;
  const argv = readCmdline(ref.pid);
  if (argv === undefined || !sameArgv(argv, ref.argv)) return false;
  if (ref.startTime === undefined) return true;
  const st = statOf(ref.pid);
  return st !== undefined && st.state !== 'Z' && st.startTime === ref.startTime;
}

/** A running process holds the PID (zombies, which have an empty cmdline, count as dead). */
export function pidAlive(pid: number): boolean {
  return (readCmdline(pid)?.length ?? 0) > 0;
}

export interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here (0600) */
  logFile: string;
}

/**
 * Starts argv in its own session and process group (setsid via `detached`) with stdio to a log file,
 * and lets go of it: it keeps running when the agent exits, and the next agent adopts it.
 */
export function spawnDetached(argv: string[], opts: SpawnOptions): ProcessRef {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty argv');
  const log = openSync(opts.logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', log, log] });
    // spawn reports ENOENT asynchronously; without a listener it would crash the agent.
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    return { pid: child.pid, argv };
  } finally {
    closeSync(log);
  }
}

/**
 * Pure: state, process group and start time (clock ticks since boot) from /proc/PID/stat
 * (comm, field 2, may contain spaces and parentheses, so fields are counted after its last ')').
 */
export function parseStat(raw: string): { state: string; pgrp: number; startTime: number } | undefined {
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  const startTime = Number(fields[19]);
  return fields[0] && Number.isInteger(pgrp) ? { state: fields[0], pgrp, startTime } : undefined;
}

function allPids(): number[] {
  try {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

export function statOf(pid: number): ReturnType<typeof parseStat> {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Live (non-zombie) processes in the given groups. Zombies do not count: orphans of a dead desktop are
 * reaped by init, which can take a while, and they hold nothing.
 */
export function liveGroupMembers(pgids: readonly number[]): number[] {
  if (pgids.length === 0) return [];
  const wanted = new Set(pgids);
  return allPids().filter((pid) => {
    const st = statOf(pid);
    return st !== undefined && wanted.has(st.pgrp) && st.state !== 'Z';
  });
}

/**
 * Processes whose environment carries `NAME=value`: the desktop's programs inherit PORTHOLE_SESSION,
 * also those that left its process groups (a terminal's shell gets its own session, `setsid` jobs).
 */
export function processesWithEnv(entry: string): number[] {
  const needle = Buffer.from(`\0${entry}\0`);
  const first = Buffer.from(`${entry}\0`);
  return allPids().filter((pid) => {
    if (pid === process.pid) return false;
    try {
      const env = readFileSync(`/proc/${pid}/environ`);
      return env.subarray(0, first.length).equals(first) || env.includes(needle);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

/**
 * We may signal a group when its leader is still ours, or when no process holds the leader's PID at
 * all (then the group can only be our leftovers: Linux does not reuse a PID while its group exists).
 */
export function mayKillGroup(ref: ProcessRef): boolean {
  const argv = readCmdline(ref.pid);
  return argv === undefined || sameArgv(argv, ref.argv);
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM the groups (and processes tagged with `envTag`), SIGKILL whatever is left after `graceMs`;
 * resolves when none of them runs any more.
 */
export async function stopGroups(refs: Array<ProcessRef | undefined>, graceMs = 2_000, envTag?: string): Promise<void> {
  const groups = refs.filter((r): r is ProcessRef => r !== undefined && mayKillGroup(r)).map((r) => r.pid);
  const tagged = () => (envTag ? processesWithEnv(envTag).filter(pidAlive) : []);
  const remaining = () => [...new Set([...liveGroupMembers(groups), ...tagged()])];
  for (const g of groups) signal(-g, 'SIGTERM');
  for (const pid of tagged()) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = remaining();
  while (left.length && Date.now() < deadline) {
    await sleep(50);
    left = remaining();
  }
  if (!left.length) return;
  for (const g of groups) signal(-g, 'SIGKILL');
  for (const pid of left) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2_000;
  while (remaining().length && Date.now() < killDeadline) await sleep(20);
}

/** The pid namespace of a process as `pid:[inode]`, or undefined when gone or not ours to inspect. */
export function pidNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Live processes in a pid namespace: a sandbox's init and everything it started, however they detached. */
export function namespaceMembers(pidNs: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && pidNamespaceOf(pid) === pidNs && statOf(pid)?.state !== 'Z');
}

/**
 * Ends sandboxes: SIGTERM to every program inside (not the sandbox's init, whose end would SIGKILL the
 * rest at once), so they can save and exit; after `graceMs` SIGKILL to the inits, which takes down
 * whatever is left (the kernel kills a pid namespace with its init). Resolves when none runs.
 */
export async function stopSandboxes(refs: Array<ProcessRef | undefined>, graceMs = 2_000): Promise<void> {
  const live = refs.filter((r): r is ProcessRef & { pidNs: string } => r?.pidNs !== undefined && isOurs(r));
  const members = () => live.flatMap((r) => namespaceMembers(r.pidNs));
  for (const r of live) for (const pid of namespaceMembers(r.pidNs)) if (pid !== r.pid) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (members().length && Date.now() < deadline) await sleep(25);
  if (!members().length) return;
  for (const r of live) if (isOurs(r)) signal(r.pid, 'SIGKILL');
  const killDeadline = Date.now() + 2_000;
  while (members().length && Date.now() < killDeadline) await sleep(20);
}

export interface SandboxSpawnOptions {
  bwrap: string;
  /** bwrap's options; given on a file descriptor (--args), so no host path shows in the sandbox's `ps` */
  options: string[];
  command: string[];
  /** where the arguments and bwrap's info (child pid, namespaces) are written; a directory only the agent reads */
  workDir: string;
  role: string;
  logFile: string;
  /** bwrap not up within this time: an error quoting its log */
  timeoutMs?: number;
}

/** Pure: the pid namespace inode from bwrap's --info-fd JSON, as /proc/PID/ns/pid names it. */
export function parseBwrapInfo(text: string): { childPid: number; pidNs: string } | undefined {
  try {
    const info = JSON.parse(text) as Record<string, unknown>;
    const pid = info['child-pid'];
    const ns = info['pid-namespace'];
    return typeof pid === 'number' && typeof ns === 'number' ? { childPid: pid, pidNs: `pid:[${ns}]` } : undefined;
  } catch {
    return undefined; // not written completely yet
  }
}

/**
 * Starts a sandbox (detached, as spawnDetached) and returns a reference to the sandbox's init, the
 * process that lives exactly as long as the sandbox: bwrap's own outer process may end earlier (it is
 * only a monitor), and everything inside the sandbox dies with the init.
 */
export async function spawnSandboxed(opts: SandboxSpawnOptions): Promise<ProcessRef> {
  const argsFile = `${opts.workDir}/${opts.role}.args`;
  const infoFile = `${opts.workDir}/${opts.role}.info`;
  writeFileSync(argsFile, opts.options.map((a) => `${a}\0`).join(''), { mode: 0o600 });
  rmSync(infoFile, { force: true });
  const argsFd = openSync(argsFile, 'r');
  const infoFd = openSync(infoFile, 'w', 0o600);
  const log = openSync(opts.logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(opts.bwrap, ['--info-fd', '4', '--args', '3', '--', ...opts.command], { cwd: '/', env: {}, detached: true, stdio: ['ignore', log, log, argsFd, infoFd] });
    child.on('error', () => undefined);
    child.unref();
  } finally {
    for (const fd of [argsFd, infoFd, log]) closeSync(fd);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  for (;;) {
    const info = parseBwrapInfo(readFileSync(infoFile, 'utf8'));
    if (info) {
      const st = statOf(info.childPid);
      const argv = readCmdline(info.childPid);
      if (!st || !argv) throw new Error(`the ${opts.role} sandbox ended at once: ${lastLine(opts.logFile)}`);
      return { pid: info.childPid, argv, startTime: st.startTime, pidNs: info.pidNs };
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      throw new Error(`the ${opts.role} sandbox could not be set up: ${lastLine(opts.logFile) || 'bubblewrap gave no reason'}`);
    }
    await sleep(2);
  }
}

function lastLine(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-1)[0] ?? '';
  } catch {
    return '';
  }
}
