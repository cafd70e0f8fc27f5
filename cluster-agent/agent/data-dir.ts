/**
 * The agent's data directory, made (or checked) before anything else touches it, so a path where
 * it cannot live is one sentence and exit 1 rather than a hang.
 *
 * Why not `mkdir(dir, { recursive: true })`: Node's recursive mkdir (20.x) loops for ever, at full
 * CPU and without yielding, when the kernel answers ENOENT for a directory whose parent exists —
 * which is what /proc (and other pseudo file systems) answer to every mkdir. So this walks up to
 * the deepest existing ancestor and creates each missing level itself, one plain mkdir at a time.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export class DataDirError extends Error {}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Creates `dir` (0700 for each level it makes) or checks the existing one is a writable directory. */
export async function ensureDirectory(dir: string, what = 'data directory'): Promise<void> {
  const target = resolve(dir);
  const fail = (why: string) => new DataDirError(`Cannot use ${target} as the ${what}: ${why}; pick another --data-dir`);

  // Deepest ancestor (or the directory itself) that exists.
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    try {
      const s = await stat(existing);
      if (!s.isDirectory()) throw fail(`${existing} is a file, not a directory (ENOTDIR)`);
      break;
    } catch (err) {
      if (err instanceof DataDirError) throw err;
      if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw fail(`${existing} cannot be looked at (${(err as Error).message})`);
      const parent = dirname(existing);
      if (parent === existing) throw fail(`not even ${existing} exists`);
      missing.unshift(existing);
      existing = parent;
    }
  }
  for (const level of missing) {
    try {
      await mkdir(level, { mode: 0o700 });
    } catch (err) {
      if (code(err) === 'EEXIST' && (await stat(level).catch(() => undefined))?.isDirectory()) continue; // made meanwhile
      throw fail(`the directory cannot be created (${(err as Error).message})`);
    }
  }
  try {
    await access(target, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fail(`the directory is not writable (${(err as Error).message})`);
  }
}
