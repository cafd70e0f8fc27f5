/**
 * Desktop processes outlive the agent, so we track them by PID and check identity through /proc
 * (a PID can be reused; the command line we started cannot be, it names the session's run dir).
 * Node has no pidfd, so liveness is polled.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

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

/** True while any process of the group exists. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * We may signal a group when its leader is still ours, or when no process holds the leader's PID at
 * all (then the group can only be our leftovers: Linux does not reuse a PID while its group exists).
 */
export function mayKillGroup(ref: ProcessRef): boolean {
  const argv = readCmdline(ref.pid);
  return argv === undefined || sameArgv(argv, ref.argv);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM the groups, SIGKILL whatever is left after `graceMs`; resolves when they are gone. */
export async function stopGroups(refs: Array<ProcessRef | undefined>, graceMs = 2_000): Promise<void> {
  const groups = refs.filter((r): r is ProcessRef => r !== undefined && mayKillGroup(r)).map((r) => r.pid);
  for (const g of groups) signalGroup(g, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groups.some(groupExists) && Date.now() < deadline) await sleep(50);
  const left = groups.filter(groupExists);
  for (const g of left) signalGroup(g, 'SIGKILL');
  const killDeadline = Date.now() + 2_000;
  while (left.some(groupExists) && Date.now() < killDeadline) await sleep(20);
}
