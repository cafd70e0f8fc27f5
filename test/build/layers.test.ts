/**
 * README's layout table is a lint rule: the table in README.md and build/eslint/layers.mjs name the same
 * layers, and an import across a line the table does not draw fails `npm run lint`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module of the build, without types
import { LAYERS, layerOf, mayImport } from '../../build/eslint/layers.mjs';
import { repoRoot } from '../support/processes.js';

const eslint = new ESLint({ cwd: repoRoot });

async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, file) });
  return result!.messages.filter((m) => m.ruleId === 'porthole/layers').map((m) => m.message);
}

describe('the layer rule', () => {
  it('has the layers of README\'s layout table', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([^`]+)\/` \|/gm)].map((m) => m[1]);
    const layers = (LAYERS as Array<{ path: string }>).map((l) => l.path);
    for (const layer of layers) expect(rows, `README's layout table lacks ${layer}`).toContain(layer);
  });

  it('refuses imports across lines the table does not draw, and allows those it does', async () => {
    expect(await lint('renderer/src/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n")).toEqual(['renderer (runs in browser / Electron renderer) may not import "node:fs"']);
    expect(await lint('renderer/src/x.ts', "import { startAgent } from '../../cluster-agent/agent/agent.js';\nexport const a = startAgent;\n")).toEqual([expect.stringMatching(/^renderer may not import cluster-agent\/agent/)]);
    expect(await lint('main/core/x.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual([expect.stringMatching(/may not import "electron"/)]);
    expect(await lint('cluster-agent/runtime/local/x.ts', "import { startAgent } from '../../agent/agent.js';\nexport const a = startAgent;\n")).toEqual([expect.stringMatching(/^cluster-agent\/runtime\/local may not import cluster-agent\/agent/)]);
    expect(await lint('cluster-agent/contract/x.ts', "import pino from 'pino';\nexport const a = pino;\n")).toHaveLength(1);
    expect(await lint('cluster-agent/runtime/local/x.ts', "import { RuntimeError } from '../types.js';\nimport { Session } from '../../contract/index.js';\nexport const a = [RuntimeError, Session];\n")).toEqual([]);
    expect(mayImport('cluster-agent/agent/cli.ts', 'cluster-agent/runtime/local/index.ts')).toBe(true); // the composition root
    expect(mayImport('cluster-agent/agent/server.ts', 'cluster-agent/runtime/local/index.ts')).toBe(false);
    expect(layerOf('test/x.ts')).toBeUndefined(); // tests and benches may import everything
  });
});
