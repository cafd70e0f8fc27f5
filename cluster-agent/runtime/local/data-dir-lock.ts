/**
 * One agent per data dir: two runtimes writing local-sessions.json and stopping each other's
 * desktops would lose state. The lock names our PID and its start time, so a stale lock (agent
 * killed, PID reused by something else) is recognised and taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statOf } from './processes.js';

const lockPath = (dataDir: string) => join(dataDir, 'local-runtime.lock');

function identity(pid: number): string | undefined {
  const st = statOf(pid);
  return st && st.state !== 'Z' ? `${pid} ${st.startTime}` : undefined;
}

/** Throws when another live process holds the data dir; otherwise takes it. */
export function lockDataDir(dataDir: string): void {
  const mine = identity(process.pid);
  let held: string | undefined;
  try {
    held = readFileSync(lockPath(dataDir), 'utf8').trim();
  } catch {
    held = undefined;
  }
  if (held && held !== mine) {
    const pid = Number.parseInt(held, 10);
    if (Number.isInteger(pid) && identity(pid) === held) {
      throw new Error(`Another agent (pid ${pid}) is using the data directory ${dataDir}: stop it first, or use another --data-dir`);
    }
  }
  writeFileSync(lockPath(dataDir), `${mine ?? process.pid}\n`, { mode: 0o600 });
}

export function unlockDataDir(dataDir: string): void {
  const mine = identity(process.pid);
  try {
    if (readFileSync(lockPath(dataDir), 'utf8').trim() === mine) rmSync(lockPath(dataDir), { force: true });
  } catch {
    // not there
  }
}
