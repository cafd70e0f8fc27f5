/**
 * X display numbers. A display is taken when its lock file or socket exists (any X server on this
 * machine), when the kernel lists its abstract socket, or when this process has just reserved it for
 * an Xvnc that has not created its lock yet. Races with other processes are caught by Xvnc itself
 * (it refuses a display whose lock is held) and the caller retries with another number.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';

/** Start above the numbers people's own X servers and VNC setups usually use. */
export const FIRST_DISPLAY = 20;
export const LAST_DISPLAY = 499;

/** Numbers handed to an Xvnc that has not yet locked them (shared by all runtimes in this process). */
const reserved = new Set<number>();

export function lockFile(display: number): string {
  return `/tmp/.X${display}-lock`;
}

export function socketFile(display: number): string {
  return `/tmp/.X11-unix/X${display}`;
}

/** Pure: the first number in [from, to] that `taken` does not claim. */
export function firstFreeDisplay(taken: (n: number) => boolean, from = FIRST_DISPLAY, to = LAST_DISPLAY): number | undefined {
  for (let n = from; n <= to; n++) if (!taken(n)) return n;
  return undefined;
}

/** Pure: display numbers of X sockets in /proc/net/unix text (path or abstract "@" names). */
export function displaysInProcNetUnix(text: string): Set<number> {
  const found = new Set<number>();
  for (const match of text.matchAll(/\/tmp\/\.X11-unix\/X(\d+)\s*$/gm)) found.add(Number(match[1]));
  return found;
}

function listeningDisplays(): Set<number> {
  try {
    return displaysInProcNetUnix(readFileSync('/proc/net/unix', 'utf8'));
  } catch {
    return new Set();
  }
}

/** Picks and reserves a free display; call `releaseDisplay` once its Xvnc holds the lock (or failed). */
export function reserveDisplay(): number {
  const listening = listeningDisplays();
  const n = firstFreeDisplay((d) => reserved.has(d) || listening.has(d) || existsSync(lockFile(d)) || existsSync(socketFile(d)));
  if (n === undefined) throw new Error(`No free X display number between :${FIRST_DISPLAY} and :${LAST_DISPLAY}: stop some desktops`);
  reserved.add(n);
  return n;
}

export function releaseDisplay(display: number): void {
  reserved.delete(display);
}

/** Pure: the PID in an X lock file's text ("      1234\n"), or undefined. */
export function pidInLockFile(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * After our Xvnc died without cleaning up (SIGKILL, crash), remove its lock and socket so the number
 * can be used again. Only when the lock names our PID and that process is gone.
 */
export function cleanStaleDisplay(display: number, ourXvncPid: number, isAlive: (pid: number) => boolean): void {
  let text: string;
  try {
    text = readFileSync(lockFile(display), 'latin1');
  } catch {
    return; // no lock: nothing of ours left, and a bare socket may belong to someone else
  }
  if (pidInLockFile(text) !== ourXvncPid || isAlive(ourXvncPid)) return;
  rmSync(lockFile(display), { force: true });
  rmSync(socketFile(display), { force: true });
}
