/**
 * Starting our own CLIs in tests: spawn, wait for the line that says they are ready, stop by PID.
 * Only processes started here are ever stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
// One process per CLI (node --import tsx), so a signal reaches the program itself, not a wrapper.
const tsx = process.execPath;
const tsxArgs = ['--import', 'tsx'];

export interface Started {
  child: ChildProcess;
  match: RegExpMatchArray;
  output: string[];
}

/**
 * Spawns `tsx <script> ...args` and resolves when a stdout line matches `ready`. `nodeArgs` go to node
 * itself (e.g. --cpu-prof); `as` runs it as another uid (root only); `env` is added to this one's.
 */
export function startCli(
  script: string,
  args: string[],
  ready: RegExp,
  timeoutMs = 30_000,
  nodeArgs: string[] = [],
  opts: { as?: { uid: number; gid: number }; env?: Record<string, string>; netns?: string } = {},
): Promise<Started> {
  const { as } = opts;
  const env = { ...process.env, ...opts.env, ...(as ? { HOME: '/nonexistent' } : {}) };
  // nsenter execs node in the named network namespace: still one process, so signals reach the CLI
  const [cmd, ...pre] = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, '--', tsx] : [tsx];
  const child = spawn(cmd!, [...pre, ...nodeArgs, ...tsxArgs, script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env, ...(as ? { uid: as.uid, gid: as.gid } : {}) });
  const output: string[] = [];
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${script} not ready after ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    const onLine = (line: string) => {
      output.push(line);
      const match = line.match(ready);
      if (match) {
        clearTimeout(timer);
        ok({ child, match, output });
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${script} exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
  });
}

/**
 * Runs a CLI to completion with optional stdin; resolves with its exit code and output. With
 * `timeoutMs`, a CLI still running then is killed (SIGKILL) and reported with `timedOut`.
 */
export function runCli(
  script: string,
  args: string[],
  input?: string,
  opts: { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut?: boolean }> {
  const child = spawn(tsx, [...tsxArgs, script, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input ?? '');
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), opts.timeoutMs);
  return new Promise((ok) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      ok({ code, stdout, stderr, ...(timedOut ? { timedOut } : {}) });
    }),
  );
}

/** SIGTERM (or the given signal), then SIGKILL if it lingers; resolves once it has exited. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `porthole-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
