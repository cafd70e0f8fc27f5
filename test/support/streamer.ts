/** The built WebRTC streamer (dist/streamer) for tests: built once if missing (npm test builds it first). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './processes.js';

export function builtStreamer(): { dir: string; node: string } {
  const dir = join(repoRoot, 'dist', 'streamer');
  if (!existsSync(join(dir, 'porthole-streamer.mjs')) || !existsSync(join(dir, 'porthole-enc'))) {
    execFileSync(process.execPath, [join(repoRoot, 'build', 'bundle-streamer.mjs')], { stdio: 'inherit' });
  }
  return { dir, node: process.execPath };
}
