/**
 * Starts the embedded default: `porthole-agent serve --runtime local` and the launcher.
 * The launcher is Electron when its binary is installed; otherwise the same renderer and core run
 * as the web shell, opened in Chromium's app mode (or printed, on a machine without a display).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadPolicySync } from '../main/core/policy.js';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.PORTHOLE_DATA_DIR ?? join(root, '.porthole'));
const agentDir = join(dataDir, 'agent');
const usersFile = join(agentDir, 'users.yaml');
const listen = process.env.PORTHOLE_AGENT_LISTEN ?? '127.0.0.1:7380';
// node --import tsx: one process per CLI, so stopping it stops the program, not just a wrapper.
const tsx = process.execPath;
const tsxArgs = ['--import', 'tsx'];
const children: ChildProcess[] = [];

function say(line: string): void {
  console.log(`porthole: ${line}`);
}

/** Runs a CLI of ours and resolves with the first stdout line that matches. */
function startAndWaitFor(args: string[], pattern: RegExp, name: string): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(tsx, [...tsxArgs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = line.match(pattern);
      if (match) resolvePromise({ child, match });
      else process.stdout.write(`[${name}] ${line}\n`);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
  });
}

/** First start: one user, `demo`, with a random password kept next to the agent's data (0600). */
async function ensureDemoUser(): Promise<{ user: string; password: string }> {
  const passwordFile = join(dataDir, 'demo-password');
  if (existsSync(usersFile) && existsSync(passwordFile)) {
    return { user: 'demo', password: readFileSync(passwordFile, 'utf8').trim() };
  }
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(9).toString('base64url');
  await new Promise<void>((ok, fail) => {
    const child = spawn(tsx, [...tsxArgs, 'cluster-agent/agent/cli.ts', 'users', 'add', 'demo', '--file', usersFile, '--password-stdin'], {
      cwd: root,
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.stdin.end(password);
    child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`users add failed with code ${code}`))));
  });
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  return { user: 'demo', password };
}

function kioskByPolicy(): boolean {
  try {
    return loadPolicySync().kiosk.value;
  } catch {
    return false; // the web shell has refused to start already, naming the key
  }
}

function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown as string;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { user, password } = await ensureDemoUser();
  const agent = await startAndWaitFor(
    ['cluster-agent/agent/cli.ts', 'serve', '--runtime', 'local', '--listen', listen, '--users', usersFile, '--data-dir', agentDir],
    /^listening on (\S+)/,
    'agent',
  );
  const agentUrl = agent.match[1]!;
  say(`agent with local desktops on ${agentUrl}`);
  say(`sign in as "${user}" with password "${password}" (kept in ${join(dataDir, 'demo-password')}; add users with: npm run agent -- users add NAME --file ${usersFile} --password-stdin)`);

  const electron = electronBinary();
  if (electron) {
    const app = spawn(electron, [join(root, 'dist', 'electron', 'main.js'), `--agent=${agentUrl}`], { cwd: root, stdio: 'inherit' });
    children.push(app);
    app.once('exit', () => shutdown(0));
    return;
  }

  say("Electron's binary is not installed here, so the launcher runs as the web shell in Chromium.");
  const shell = await startAndWaitFor(['main/webshell/cli.ts', '--agent', agentUrl], /^webshell on (\S+)/, 'webshell');
  const shellUrl = shell.match[1]!;
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    say(`no display here: open ${shellUrl} in Chromium on this machine`);
    return;
  }
  const profile = join(dataDir, 'chromium-profile');
  const flags = [`--app=${shellUrl}`, `--user-data-dir=${profile}`, '--no-first-run', '--disable-background-networking', '--disable-sync'];
  // A device whose policy makes it a kiosk: Chromium's own kiosk mode (one full-screen window, no way out).
  if (kioskByPolicy()) flags.push('--kiosk');
  if (process.getuid?.() === 0) flags.push('--no-sandbox'); // Chromium refuses to run as root otherwise
  const browser = spawn('chromium', flags, { stdio: 'ignore' });
  children.push(browser);
  browser.once('exit', () => shutdown(0));
  say(`launcher window opened (${shellUrl}); close it or press Ctrl+C to stop (desktops keep running and are adopted next start)`);
}

function shutdown(code: number): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 300).unref();
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
main().catch((error: unknown) => {
  console.error(`porthole: ${error instanceof Error ? error.message : String(error)}`);
  shutdown(1);
});
