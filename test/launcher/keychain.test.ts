/**
 * The keychain SecretStore against the real Secret Service: gnome-keyring in a private D-Bus
 * session with a throw-away HOME, started here so `npx vitest run test/launcher` needs nothing else.
 * The sign-in survives a "restart" (a second core) through the keychain alone.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllSessions } from '../support/agent-api.js';
import { repoRoot, runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';

const AGENT = 'cluster-agent/agent/cli.ts';
const PASSWORD = 'keychain pw';
const CHILD = 'test/launcher/fixtures/keychain-child.ts';
const data = tempDir('keychain');
let agent: Started;

/** Runs the child script with a clean environment; resolves with its JSON line and stderr. */
function runChild(command: string[], env: Record<string, string>): Promise<{ code: number | null; result: Record<string, unknown>; stderr: string }> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  const child = spawn(command[0]!, command.slice(1), { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) =>
    child.once('exit', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      let result: Record<string, unknown> = {};
      try {
        result = JSON.parse(line) as Record<string, unknown>;
      } catch {
        result = { unparsed: stdout };
      }
      ok({ code, result, stderr });
    }),
  );
}

const node = `'${process.execPath}' --import tsx ${CHILD}`;

beforeAll(async () => {
  const usersFile = join(data.path, 'users.yaml');
  const added = await runCli(AGENT, ['users', 'add', 'erin', '--file', usersFile, '--password-stdin'], PASSWORD);
  expect(added.code, added.stderr).toBe(0);
  agent = await startCli(AGENT, ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/);
});

afterAll(async () => {
  if (agent) {
    await stopAllSessions(agent.match[1]!, 'erin', PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
  }
  data.remove();
});

describe('OS keychain (Secret Service via gnome-keyring)', () => {
  it('stores, reads and deletes secrets, and carries the sign-in across launcher restarts', async () => {
    const home = join(data.path, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const script = `echo -n unlock-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec ${node}`;
    const { code, result, stderr } = await runChild(['dbus-run-session', '--', 'sh', '-c', script], {
      HOME: home,
      AGENT_URL: agent.match[1]!,
      AGENT_USER: 'erin',
      AGENT_PASSWORD: PASSWORD,
    });
    expect(code, `${JSON.stringify(result)}\n${stderr}`).toBe(0);
    expect(result).toMatchObject({
      kind: 'keychain',
      back: 'hello keyring',
      afterDelete: null,
      savedAfterSignIn: true,
      restored: { signedIn: true, agentUrl: agent.match[1], user: { name: 'erin', groups: [] }, restored: true },
      meUser: 'erin',
      savedAfterSignOut: false,
    });
    expect(result.logs).toContain('info: keeping the sign-in in the OS keychain (Secret Service)');
  }, 60_000);

  it('without a Secret Service it keeps the sign-in in memory and says it will not survive a restart', async () => {
    const { code, result } = await runChild(['sh', '-c', `exec ${node}`], {
      HOME: join(data.path, 'home-no-bus'),
      MODE: 'no-bus',
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(data.path, 'no-such-bus')}`,
    });
    expect(code).toBe(0);
    expect(result.kind).toBe('memory');
    expect(result.problem).toMatch(/^Porthole cannot use this computer's keychain \(.+\)\. You can sign in, but you will be signed out when Porthole closes/);
    expect((result.logs as string[]).join('\n')).toMatch(/^warn: no usable OS keychain \(.+\); the sign-in is kept in memory only and will not survive a restart of Porthole$/m);
  }, 30_000);

  it('a locked keychain: the person is told on the sign-in screen, can still sign in, and nothing of theirs is written to disk', async () => {
    const home = join(data.path, 'home-locked');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    // First a login keyring with a password (as a device has), then a session where nobody unlocks it:
    // gnome-keyring asks for the password through a prompter, which cannot show here, so it is dismissed.
    // (The first session uses the keyring once, so its daemon is up and ends with its bus.)
    const made = await runChild(['dbus-run-session', '--', 'sh', '-c', `echo -n unlock-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec ${node}`], { HOME: home, MODE: 'open' });
    expect(made.code, made.stderr).toBe(0);
    expect(made.result.kind).toBe('keychain');
    const profileDir = join(data.path, 'profiles-locked');
    const script = `gnome-keyring-daemon --start --components=secrets >/dev/null && exec ${node}`;
    const { code, result, stderr } = await runChild(['dbus-run-session', '--', 'sh', '-c', script], {
      HOME: home,
      MODE: 'locked',
      PROFILE_DIR: profileDir,
      AGENT_URL: agent.match[1]!,
      AGENT_USER: 'erin',
      AGENT_PASSWORD: PASSWORD,
    });
    expect(code, `${JSON.stringify(result)}\n${stderr}`).toBe(0);
    const sentence = expect.stringMatching(/^Porthole cannot use this computer's keychain \(.*(locked|prompt|dismissed).*\)\. You can sign in, but you will be signed out when Porthole closes and no offline copy of your workspace is kept\./);
    expect(result).toMatchObject({
      kind: 'memory',
      before: { signedIn: false, keychain: { available: false, message: sentence } },
      signedIn: { signedIn: true, user: { name: 'erin' }, keychain: { available: false, message: sentence } },
      meUser: 'erin',
      offline: null,
      profileFiles: [],
    });
  }, 60_000);
});
