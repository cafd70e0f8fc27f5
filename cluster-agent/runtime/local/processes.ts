/**
 * Desktop processes outlive the agent, so we track them by PID and check identity through /proc
 * (a PID can be reused; the command line we started cannot be, it names the session's run dir).
 * Node has no pidfd, so liveness is polled.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  /** the exact argv we started, compared with /proc/PID/cmdline */
  argv: string[];
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
  return argv !== undefined && sameArgv(argv, ref.argv);
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
