/**
 * Bundles the agent (cluster-agent/agent/cli.ts) into one file, dist/agent/porthole-agent.mjs, with
 * its npm packages inside: the container image (build/images/agent/Dockerfile) then needs only Node.
 * Usage: node build/bundle-agent.mjs [--outdir DIR]
 */
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--outdir');
const outdir = resolve(outFlag >= 0 ? process.argv[outFlag + 1] : join(root, 'dist', 'agent'));
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [join(root, 'cluster-agent/agent/cli.ts')],
  outfile: join(outdir, 'porthole-agent.mjs'),
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  // Some bundled packages are CommonJS and call require() for Node built-ins.
  banner: { js: "import { createRequire as __portholeRequire } from 'node:module'; const require = __portholeRequire(import.meta.url);" },
});
console.log(`agent bundle in ${outdir}: porthole-agent.mjs`);
