/** `npm run bench`: every benchmark in turn, each printing its table and a last `RESULT {json}` line. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const benches = ['session-start.ts', 'sign-in.ts', 'offline-start.ts', 'roaming.ts', 'gateway.ts', 'stream.ts', 'stream-paths.ts', 'kubernetes-sessions.ts', 'real-node-start.ts'];
let failed = 0;
for (const bench of benches) {
  console.log(`\n##### bench/${bench}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, bench)], { stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
