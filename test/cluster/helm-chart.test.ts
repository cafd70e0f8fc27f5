/**
 * The Helm chart (build/helm/porthole) says what `porthole-agent manifests` says: helm (built from its Go
 * module, cached) renders it, and the objects equal the manifests' for the same namespace, image and
 * replicas; values add Templates; the committed chart is what build/helm/generate-chart.ts writes; and
 * the API server takes the rendered chart (server-side dry run).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubeConfigFrom } from '../support/cluster.js';
import { ServerSideApply, apiError, createNamespace, deleteNamespaces, ensureCrds } from '../support/kube.js';
import { repoRoot, runCli, tempDir } from '../support/processes.js';

const run = promisify(execFile);
const CHART = join(repoRoot, 'build/helm/porthole');
let helm: string;

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const parse = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Doc | null).filter((d): d is Doc => !!d);
const key = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;
const sorted = (docs: Doc[]) => [...docs].sort((a, b) => key(a).localeCompare(key(b)));

async function helmTemplate(args: string[]): Promise<Doc[]> {
  const { stdout } = await run(helm, ['template', 'porthole', CHART, '--include-crds', ...args], { maxBuffer: 16 << 20 });
  return parse(stdout);
}

async function manifests(args: string[]): Promise<Doc[]> {
  const out = await runCli('cluster-agent/agent/cli.ts', ['manifests', ...args]);
  expect(out.code, out.stderr).toBe(0);
  return parse(out.stdout);
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

beforeAll(async () => {
  ({ stdout: helm } = await run('bash', [join(repoRoot, 'build/helm/build-helm.sh')], { timeout: 20 * 60_000, maxBuffer: 16 << 20 }));
  helm = helm.trim();
}, 20 * 60_000);

describe('the Helm chart', () => {
  it('renders exactly the objects of `manifests` for the same namespace, image and replicas', async () => {
    expect(sorted(await helmTemplate(['--namespace', 'desks', '--set', 'image=registry.example/agent:9', '--set', 'replicas=3']))).toEqual(
      sorted(await manifests(['--namespace', 'desks', '--image', 'registry.example/agent:9', '--replicas', '3'])),
    );
    // The defaults agree too (values.namespace empty: the release namespace).
    expect(sorted(await helmTemplate(['--namespace', 'porthole']))).toEqual(sorted(await manifests([])));
  });

  it('takes Templates from values, in the Template CRD shape', async () => {
    const dir = tempDir('helm');
    const values = join(dir.path, 'values.yaml');
    writeFileSync(values, 'templates:\n  - name: terminal\n    spec: {displayName: Terminal, description: A shell, image: registry.example/desktop:1, protocols: [webrtc, vnc]}\n');
    const docs = await helmTemplate(['--namespace', 'desks', '-f', values]);
    const templates = docs.filter((d) => d.kind === 'Template');
    dir.remove();
    expect(templates).toEqual([
      { apiVersion: 'porthole.dev/v1alpha1', kind: 'Template', metadata: { name: 'terminal', namespace: 'desks', labels: { 'app.kubernetes.io/part-of': 'porthole' } }, spec: { displayName: 'Terminal', description: 'A shell', image: 'registry.example/desktop:1', protocols: ['webrtc', 'vnc'] } },
    ]);
  });

  it('is committed as build/helm/generate-chart.ts writes it', async () => {
    const fresh = tempDir('helm-chart');
    await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'build/helm/generate-chart.ts'), '--out', fresh.path], { cwd: repoRoot });
    expect(files(CHART)).toEqual(files(fresh.path));
    fresh.remove();
  });

  it('is taken by the API server (server-side dry run of every rendered object)', async () => {
    const kc = kubeConfigFrom(inject('kubeconfig'));
    const ssa = ServerSideApply.for(kc);
    const ns = await createNamespace(kc, 'helm');
    await ensureCrds(kc); // a Template's dry run needs its CRD to exist
    try {
      for (const d of await helmTemplate(['--namespace', ns, '--set', 'createNamespace=false'])) {
        await ssa.apply(d, { dryRun: true }).catch((e: unknown) => {
          throw new Error(`${key(d)} refused: ${apiError(e).message}`);
        });
      }
    } finally {
      await deleteNamespaces(kc, [ns]);
    }
  });
});
