/**
 * Bundles the Electron layer to dist/electron/:
 *   main.js      ESM, Electron main (main/electron/index.ts); npm packages stay external and are
 *                loaded from node_modules (the keychain binding is native and cannot be bundled)
 *   preload.cjs  CommonJS, the sandboxed preload: everything bundled but `electron`, because a
 *                sandboxed preload can require nothing else and cannot be an ES module
 * Usage: node build/bundle-electron.mjs [--outdir DIR]
 */
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--outdir');
const outdir = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, 'dist', 'electron'));
mkdirSync(outdir, { recursive: true });

const common = { bundle: true, platform: 'node', target: 'node22', sourcemap: true, logLevel: 'warning', absWorkingDir: root };

await build({
  ...common,
  entryPoints: { main: join(root, 'main/electron/index.ts') },
  outdir,
  format: 'esm',
  // Admin mode (and the Kubernetes client) is a chunk of its own, loaded only where it is allowed.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'external',
  external: ['electron'],
});

await build({
  ...common,
  entryPoints: [join(root, 'preload/index.ts')],
  outfile: join(outdir, 'preload.cjs'),
  format: 'cjs',
  external: ['electron'],
});

console.log(`electron bundles in ${outdir}: main.js, preload.cjs`);
