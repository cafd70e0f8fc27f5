/** The real `porthole-agent` process: what an admin or a script sees on stdout, stderr and exit codes. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';
import { call } from './support.js';

const CLI = 'cluster-agent/agent/cli.ts';
const LISTENING = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/;
let dir: ReturnType<typeof tempDir>;
const started: Started[] = [];

beforeEach(() => {
  dir = tempDir('agent-cli');
});
afterEach(async () => {
  for (const s of started.splice(0)) await stopProcess(s.child);
  dir.remove();
});

const serve = async (extra: string[] = []) => {
  const s = await startCli(CLI, ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'data'), ...extra], LISTENING, 60_000);
  started.push(s);
  return s;
};

describe('porthole-agent', { timeout: 120_000 }, () => {
  it('serve --listen 127.0.0.1:0 prints the real port, keeps access tokens valid across a restart, and picks up new users live', async () => {
    const users = join(dir.path, 'data', 'users.yaml'); // the default users file under --data-dir
    expect((await runCli(CLI, ['users', 'add', 'alice', '--file', users, '--password-stdin'], 'pw-a')).code).toBe(0);

    const first = await serve();
    const url = first.match[1]!;
    expect(Number(first.match[2])).toBeGreaterThan(0);
    expect(first.output.filter((l) => l.startsWith('listening on'))).toEqual([`listening on ${url}`]);
    const tokens = (await call(url, 'POST', routes.login, { json: { username: 'alice', password: 'pw-a' } })).body;
    expect(tokens.accessToken).toBeTruthy();

    // users add while the agent runs: no restart needed
    expect((await runCli(CLI, ['users', 'add', 'dave', '--file', users, '--password-stdin'], 'pw-d')).code).toBe(0);
    expect((await call(url, 'POST', routes.login, { json: { username: 'dave', password: 'pw-d' } })).status).toBe(200);

    // SIGTERM: a clean exit 0
    const exit = new Promise<number | null>((ok) => first.child.once('exit', (code) => ok(code)));
    await stopProcess(first.child);
    expect(await exit).toBe(0);

    const second = await serve();
    const url2 = second.match[1]!;
    const me = await call(url2, 'GET', routes.me, { token: tokens.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user.name).toBe('alice');
    const refreshed = await call(url2, 'POST', routes.refresh, { json: { refreshToken: tokens.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect((await readFile(join(dir.path, 'data', 'signing-keys.json'), 'utf8'))).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('bad arguments print usage and exit 2; a missing kubeconfig is named; manifests prints YAML', async () => {
    const [bad, kube, manifests, port] = await Promise.all([
      runCli(CLI, ['serve', '--runtime', 'local']),
      runCli(CLI, ['serve', '--runtime', 'kubernetes', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'k'), '--kubeconfig', join(dir.path, 'no-such-kubeconfig')]),
      runCli(CLI, ['manifests']),
      runCli(CLI, ['serve', '--runtime', 'local', '--listen', 'localhost']),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--listen HOST:PORT is required/);
    expect(bad.stderr).toMatch(/usage:\n\s+porthole-agent serve/);
    expect(kube.code).toBe(2);
    expect(kube.stderr).toContain(`--kubeconfig ${join(dir.path, 'no-such-kubeconfig')} does not exist`);
    expect(manifests.code).toBe(0);
    expect(manifests.stdout).toMatch(/^kind: CustomResourceDefinition$/m);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--listen must be HOST:PORT/);
    expect(bad.stdout + kube.stdout).toBe('');
  });

  it('says which API server it cannot reach, and exits 1', async () => {
    // A kubeconfig whose server is a closed loopback port: nothing answers.
    const kubeconfig = join(dir.path, 'unreachable-kubeconfig');
    await writeFile(
      kubeconfig,
      ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]', 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: x, context: {cluster: c, user: u, namespace: porthole}}]', 'current-context: x', ''].join('\n'),
    );
    const r = await runCli(CLI, ['serve', '--runtime', 'kubernetes', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'k2'), '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^porthole-agent: Cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/m);
  });

  it('a --data-dir where no directory can be made: one sentence naming it and the OS error, exit 1, no hang', async () => {
    // /proc answers ENOENT to every mkdir (Node's recursive mkdir used to spin on that for ever);
    // under a regular file, every mkdir fails with ENOTDIR.
    const file = join(dir.path, 'a-file');
    await writeFile(file, 'not a directory\n');
    const [proc, underFile] = await Promise.all([
      runCli(CLI, ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', '/proc/porthole-no-such-dir'], undefined, { timeoutMs: 20_000 }),
      runCli(CLI, ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', join(file, 'data')], undefined, { timeoutMs: 20_000 }),
    ]);
    expect(proc.timedOut, proc.stderr).toBeUndefined();
    expect(proc.code).toBe(1);
    expect(proc.stderr).toBe(
      "porthole-agent: Cannot use /proc/porthole-no-such-dir as the data directory: the directory cannot be created (ENOENT: no such file or directory, mkdir '/proc/porthole-no-such-dir'); pick another --data-dir\n",
    );
    expect(underFile.timedOut, underFile.stderr).toBeUndefined();
    expect(underFile.code).toBe(1);
    expect(underFile.stderr).toBe(`porthole-agent: Cannot use ${join(file, 'data')} as the data directory: ${file} is a file, not a directory (ENOTDIR); pick another --data-dir\n`);
    expect(proc.stdout + underFile.stdout).toBe('');
  });

  it('says so when the port is taken', async () => {
    const first = await serve();
    const taken = first.match[1]!.replace('http://', '');
    const clash = await runCli(CLI, ['serve', '--runtime', 'local', '--listen', taken, '--data-dir', join(dir.path, 'data2')]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`${taken} is already in use`);
  });
});
