/**
 * The agent as its container image runs it: one bundled file (build/bundle-agent.mjs) started by plain
 * Node from a directory with no node_modules anywhere above it, so a missing or unbundlable package
 * shows up here rather than in a cluster.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Me } from '../../cluster-agent/contract/index.js';
import { login } from '../support/agent-api.js';
import { repoRoot, tempDir } from '../support/processes.js';

const dir = tempDir('agent-bundle');
const bundle = join(dir.path, 'porthole-agent.mjs');
afterAll(() => dir.remove());

describe('the bundled agent (what the image runs)', () => {
  it('builds to one file that adds users, serves the API and prints install manifests with only Node', async () => {
    const built = spawnSync(process.execPath, [join(repoRoot, 'build/bundle-agent.mjs'), '--outdir', dir.path], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);

    const users = join(dir.path, 'users.yaml');
    const add = spawnSync(process.execPath, [bundle, 'users', 'add', 'ines', '--file', users, '--password-stdin'], { cwd: dir.path, input: 'ines-password', encoding: 'utf8' });
    expect(add.status, add.stderr).toBe(0);
    const manifests = spawnSync(process.execPath, [bundle, 'manifests', '--namespace', 'desktops'], { cwd: dir.path, encoding: 'utf8' });
    expect(manifests.status, manifests.stderr).toBe(0);
    expect(manifests.stdout).toMatch(/kind: CustomResourceDefinition[\s\S]*name: sessions\.porthole\.dev/);

    const child = spawn(process.execPath, [bundle, 'serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', users, '--data-dir', join(dir.path, 'data')], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((ok, fail) => {
        const err: string[] = [];
        child.stderr.on('data', (d) => err.push(String(d)));
        createInterface({ input: child.stdout }).on('line', (line) => {
          const m = /^listening on (\S+)/.exec(line);
          if (m) ok(m[1]!);
        });
        child.once('exit', (code) => fail(new Error(`bundled agent exited ${code}: ${err.join('')}`)));
      });
      const token = await login(url, 'ines', 'ines-password');
      const me = await fetch(new URL('/api/v1/me', url), { headers: { authorization: `Bearer ${token}` } });
      expect(Me.parse(await me.json()).user.name).toBe('ines');
      const openapi = await fetch(new URL('/api/openapi.json', url));
      expect(((await openapi.json()) as { paths: Record<string, unknown> }).paths).toHaveProperty('/api/v1/sessions');
    } finally {
      child.kill('SIGTERM');
      await new Promise((ok) => child.once('exit', ok));
    }
  });
});
