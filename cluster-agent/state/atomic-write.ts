/**
 * Write-then-rename so a crash or a concurrent reader never sees half a file (users, keys, tokens).
 * rename(2) within one directory is atomic on POSIX file systems.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // fsync before rename: otherwise a power cut can leave an empty file under the real name.
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // open()'s mode is filtered by the umask; chmod makes 0600 exact.
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
