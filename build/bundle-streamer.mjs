/**
 * Builds the WebRTC streamer into dist/streamer/: one bundled file (porthole-streamer.mjs), the
 * encoder helper built from C (build/streamer/build-encoder.sh, cached), and node-datachannel with its
 * prebuilt native binary (it cannot be bundled). A desktop's sandbox binds this directory read-only.
 * Usage: node build/bundle-streamer.mjs [--outdir DIR]
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--outdir');
const outdir = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, 'dist', 'streamer'));
rmSync(outdir, { recursive: true, force: true });
mkdirSync(join(outdir, 'node_modules', '@node-datachannel'), { recursive: true });

await build({
  entryPoints: [join(root, 'cluster-agent/streamer/main.ts')],
  outfile: join(outdir, 'porthole-streamer.mjs'),
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  external: ['node-datachannel'],
  banner: { js: "import { createRequire as __portholeRequire } from 'node:module'; const require = __portholeRequire(import.meta.url);" },
});

// node-datachannel: its JS and the prebuilt binary for this platform, and what it requires.
for (const pkg of ['node-datachannel', '@node-datachannel/linux-x64-gnu', 'detect-libc']) {
  cpSync(join(root, 'node_modules', pkg), join(outdir, 'node_modules', pkg), { recursive: true, dereference: true });
}

const helper = execFileSync('bash', [join(root, 'build/streamer/build-encoder.sh')], { encoding: 'utf8' }).trim();
copyFileSync(helper, join(outdir, 'porthole-enc'));
chmodSync(join(outdir, 'porthole-enc'), 0o755);
console.log(`streamer in ${outdir}: porthole-streamer.mjs, porthole-enc, node_modules/node-datachannel`);
