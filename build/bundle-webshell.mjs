/**
 * Bundles the web shell (main/webshell/cli.ts) into dist/webshell/porthole-webshell.mjs: what a thin
 * client without Electron runs (`node dist/webshell/porthole-webshell.mjs --agent URL`), beside
 * dist/renderer. One file loads in a fraction of the time tsx needs to compile the sources, which is
 * most of an offline start. npm packages stay external (the keychain binding is native).
 * Usage: node build/bundle-webshell.mjs [--outdir DIR]
 */
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--outdir');
const outdir = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, 'dist', 'webshell'));
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: { 'porthole-webshell': join(root, 'main/webshell/cli.ts') },
  outdir,
  outExtension: { '.js': '.mjs' },
  // Admin mode (and the Kubernetes client) is a chunk of its own, loaded only where it is allowed.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
console.log(`web shell bundle in ${outdir}: porthole-webshell.mjs`);
