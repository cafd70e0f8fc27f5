/**
 * One directory level, made if missing. Never `mkdir(…, { recursive: true })` here: Node 20's recursive
 * mkdir spins for ever, at full CPU and without yielding, where the kernel answers ENOENT to a mkdir
 * whose parent exists (/proc and other pseudo file systems). The runtime's parents always exist (the
 * agent made its data dir first), so one level at a time is all it needs.
 */
import { mkdirSync, statSync } from 'node:fs';

export function ensureDir(path: string, mode = 0o700): void {
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) throw err;
  }
}
