/**
 * The layers of the code base and what each may import: README's layout table as data, enforced by
 * the `porthole/layers` lint rule below (the way VS Code's code-layering rule works). A path says where
 * code runs and what it may reach; an import across a line not drawn here is a lint error.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `may`: the other layers this one may import. `packages`: npm or node: imports it must not use
 * (regular expressions). Longest path wins, so `cluster-agent/runtime/local` is its own layer inside
 * `cluster-agent/runtime` (the runtime interface).
 */
export const LAYERS = [
  { path: 'cluster-agent/contract', runs: 'anywhere', may: [], forbid: ['^(?!zod$)'] },
  { path: 'cluster-agent/vnc', runs: 'Node (agent)', may: [], forbid: ['^electron$'] },
  { path: 'cluster-agent/kubernetes', runs: 'Node (agent CLI)', may: ['cluster-agent/vnc'], forbid: ['^electron$'] },
  { path: 'cluster-agent/runtime', runs: 'Node (agent)', may: ['cluster-agent/contract'], forbid: ['^electron$'] },
  { path: 'cluster-agent/runtime/local', runs: 'Node (agent)', may: ['cluster-agent/contract', 'cluster-agent/runtime', 'cluster-agent/vnc'], forbid: ['^electron$'] },
  {
    path: 'cluster-agent/runtime/kubernetes',
    runs: 'Node (agent)',
    may: ['cluster-agent/contract', 'cluster-agent/runtime', 'cluster-agent/kubernetes', 'cluster-agent/state'],
    forbid: ['^electron$'],
  },
  { path: 'cluster-agent/state', runs: 'Node (agent)', may: ['cluster-agent/contract', 'cluster-agent/runtime'], forbid: ['^electron$'] },
  {
    path: 'cluster-agent/state/kubernetes',
    runs: 'Node (agent)',
    may: ['cluster-agent/state', 'cluster-agent/runtime', 'cluster-agent/kubernetes', 'cluster-agent/runtime/kubernetes/kube-client.ts'],
    forbid: ['^electron$'],
  },
  {
    path: 'cluster-agent/admin',
    runs: 'Node (agent CLI, launcher admin mode)',
    may: ['cluster-agent/contract', 'cluster-agent/kubernetes'],
    forbid: ['^electron$'],
  },
  { path: 'cluster-agent/identity', runs: 'Node (agent)', may: ['cluster-agent/contract', 'cluster-agent/state'], forbid: ['^electron$'] },
  { path: 'cluster-agent/streamer', runs: 'Node (beside the X display, in the desktop\'s sandbox or pod)', may: ['cluster-agent/contract'], forbid: ['^electron$'] },
  { path: 'cluster-agent/agent', runs: 'Node (agent)', may: ['cluster-agent/contract', 'cluster-agent/runtime', 'cluster-agent/state', 'cluster-agent/identity', 'cluster-agent/vnc'], forbid: ['^electron$'] },
  { path: 'main/core', runs: 'Node (launcher core)', may: ['cluster-agent/contract', 'bridge', 'cluster-agent/admin', 'cluster-agent/kubernetes'], forbid: ['^electron$'] },
  { path: 'main/webshell', runs: 'Node', may: ['main/core', 'cluster-agent/contract', 'bridge'], forbid: ['^electron$'] },
  { path: 'main/electron', runs: 'Electron main', may: ['main/core', 'cluster-agent/contract', 'bridge', 'preload/channels.ts'], forbid: [] },
  { path: 'bridge', runs: 'anywhere (renderer, preload, core)', may: ['cluster-agent/contract'], forbid: ['^node:', '^electron$'] },
  { path: 'preload', runs: 'Electron preload (sandboxed)', may: ['cluster-agent/contract', 'bridge'], forbid: ['^node:'] },
  { path: 'renderer', runs: 'browser / Electron renderer', may: ['cluster-agent/contract', 'bridge'], forbid: ['^node:', '^electron$'] },
];

/** Files that may cross a line, and why: the composition root picks the runtime and the stores beside it. */
export const EXCEPTIONS = [
  { file: 'cluster-agent/agent/cli.ts', may: ['cluster-agent/runtime/local', 'cluster-agent/runtime/kubernetes', 'cluster-agent/kubernetes', 'cluster-agent/state/kubernetes', 'cluster-agent/admin'], why: 'the composition root chooses the runtime and its stores, and runs the admin steps' },
  { file: 'cluster-agent/agent/args.ts', may: ['cluster-agent/runtime/local', 'cluster-agent/kubernetes', 'cluster-agent/admin'], why: 'command-line types of the runtime, the install manifests it configures and the admin steps' },
];

/** Pure: the layer a repo-relative path belongs to (longest prefix), or undefined (tests, benches, build). */
export function layerOf(path) {
  let best;
  for (const layer of LAYERS) {
    if ((path === layer.path || path.startsWith(`${layer.path}/`)) && (!best || layer.path.length > best.path.length)) best = layer;
  }
  return best;
}

/** Pure: may `fromFile` import `toFile` (both repo-relative)? */
export function mayImport(fromFile, toFile) {
  const from = layerOf(fromFile);
  const to = layerOf(toFile);
  if (!from || !to || from === to) return true;
  const allowed = [...from.may, ...EXCEPTIONS.filter((e) => e.file === fromFile).flatMap((e) => e.may)];
  // An entry names a layer (any file in it) or one file of a layer .
  return allowed.some((a) => a === to.path || a === toFile);
}

const rule = {
  meta: { type: 'problem', docs: { description: "imports follow README's layer table" }, schema: [] },
  create(context) {
    const file = relative(root, context.filename);
    const layer = layerOf(file);
    if (!layer) return {};
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (source.startsWith('.')) {
        const target = relative(root, resolve(dirname(context.filename), source)).replace(/\.js$/, '.ts');
        if (!mayImport(file, target)) {
          const to = layerOf(target);
          context.report({ node, message: `${layer.path} may not import ${to?.path ?? target} (README's layout table; build/eslint/layers.mjs)` });
        }
        return;
      }
      for (const pattern of layer.forbid) {
        if (new RegExp(pattern).test(source)) context.report({ node, message: `${layer.path} (runs in ${layer.runs}) may not import "${source}"` });
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export const plugin = { rules: { layers: rule } };
