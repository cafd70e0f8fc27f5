/**
 * A damaged users file at start-up: one bad entry must not lock everybody out, a file that cannot
 * be read at all makes the agent not ready (and sign-in 503, not 401) until it is fixed, and no
 * password-hash text ever reaches the log.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { hashPassword } from '../../cluster-agent/identity/password-hash.js';
import { formatUsersFile, parseUsersFile } from '../../cluster-agent/identity/users-file.js';
import { runCli, tempDir } from '../support/processes.js';
import { call, captureLogger, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await t?.cleanup();
  dir?.remove();
  t = undefined;
});

const login = (base: string, username: string, password: string) => call(base, 'POST', routes.login, { json: { username, password } });

/** Starts an agent whose users file is exactly `text`, with its log captured. */
async function agentWithUsersFile(text: string) {
  dir = tempDir('users-damage');
  await writeFile(join(dir.path, 'users.yaml'), text, { mode: 0o600 });
  const log = captureLogger();
  t = await startTestAgent({}, { dir, logger: log.logger });
  return { base: t.agent.url, log, file: t.usersFile };
}

describe('a users file with one bad entry', () => {
  it('still lets the good users sign in, and names each bad entry by line without quoting any hash', async () => {
    const alice = await hashPassword('alice-pw');
    const carol = await hashPassword('carol-pw');
    const other = await hashPassword('other-pw');
    const text = [
      'users:', //                                          1
      '  alice:', //                                        2
      `    passwordHash: ${alice}`, //                      3
      '    groups: [dev]', //                               4
      '  Bad Name!:', //                                    5
      `    passwordHash: ${other}`, //                      6
      '  carol:', //                                        7
      `    passwordHash: ${carol}`, //                      8
      '    groups: dev', //                                 9  (not a list)
      '  dave:', //                                         10
      '    passwordHash: $scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0$dG9vc2hvcnQ=', // 11 (key too short)
      '',
    ].join('\n');
    const { base, log, file } = await agentWithUsersFile(text);

    const ok = await login(base, 'alice', 'alice-pw');
    expect(ok.status).toBe(200);
    expect(ok.body.user).toEqual({ name: 'alice', groups: ['dev'] });
    expect((await login(base, 'carol', 'carol-pw')).status).toBe(401);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const warnings = log.lines().filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('users file: skipping'));
    expect(warnings.map((w) => w.msg)).toEqual([
      'users file: skipping the entry at line 5: the user name is not valid: user names are 1-32 characters: lower-case letters, digits, "_" or "-", starting with a letter',
      expect.stringMatching(/^users file: skipping the entry at line 7 \(carol\): groups: /),
      expect.stringMatching(/^users file: skipping the entry at line 10 \(dave\): passwordHash is not a scrypt hash as "porthole-agent users add" makes them/),
    ]);
    const everything = log.text();
    expect(everything).not.toContain('$scrypt$');
    for (const h of [alice, carol, other]) for (const part of h.split('$').slice(-2)) expect(everything).not.toContain(part);
    expect(everything).not.toContain('c2FsdHNhbHRzYWx0');

    // Rewriting such a file would lose the bad entries: `users add` refuses and says which.
    const add = await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'erin', '--file', file, '--password-stdin'], 'erin-pw');
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`${file} line 5: the user name is not valid`);
    expect(add.stderr).toContain(`${file} line 10 (dave): passwordHash`);
    expect(add.stderr).not.toContain('$scrypt$');
  });
});

describe('a users file that cannot be read at all', () => {
  it('makes /readyz 503 naming the file, the line and the fix; sign-in answers 503, not 401; fixing it needs no restart', async () => {
    const alice = await hashPassword('alice-pw');
    // Line 3: a hash followed by ": x" is a nested mapping YAML does not allow here.
    const { base, log, file } = await agentWithUsersFile(['users:', '  alice:', `    passwordHash: ${alice}: x`, '    groups: [dev]', ''].join('\n'));

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('not_ready');
    expect(body.checks.users).toMatch(new RegExp(`^Nobody can sign in: the users file cannot be used: ${file.replace(/[.]/g, '\\.')} is not valid YAML at line 3, column \\d+ \\(.+\\)\\. Fix the file; the agent picks it up without a restart$`));

    const refused = await login(base, 'alice', 'alice-pw');
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: { code: 'not_ready', message: body.checks.users } });

    expect(log.text()).toContain(`${file} is not valid YAML at line 3`);
    expect(log.text()).not.toContain('$scrypt$');
    for (const part of alice.split('$').slice(-2)) expect(log.text()).not.toContain(part);

    await writeFile(file, formatUsersFile([{ name: 'alice', passwordHash: alice, groups: ['dev'] }]));
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await login(base, 'alice', 'alice-pw')).status).toBe(200);
  });

  it('a file that is not a mapping of users is named by its line too', async () => {
    const { base, file } = await agentWithUsersFile('users:\n  - alice\n  - bob\n');
    const body = (await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, string> };
    expect(body.checks.users).toContain(`${file}, line 2: "users" must be a mapping of user names to { passwordHash, groups }`);
  });
});

describe('parsing entries one by one', () => {
  it('uses neither of two entries for the same name, naming both lines', async () => {
    const h = await hashPassword('pw');
    const parsed = parseUsersFile(['users:', '  bob:', `    passwordHash: ${h}`, '  alice:', `    passwordHash: ${h}`, '  bob:', `    passwordHash: ${h}`, ''].join('\n'), 'u.yaml');
    expect([...parsed.users.keys()]).toEqual(['alice']);
    expect(parsed.skipped).toEqual([
      { line: 2, user: 'bob', problem: '"bob" appears more than once; remove all but one' },
      { line: 6, user: 'bob', problem: '"bob" appears more than once; remove all but one' },
    ]);
  });

  it('an empty file, or one without users, is no users rather than an error', () => {
    for (const text of ['', '# nobody yet\n', 'users:\n', 'users: {}\n']) expect(parseUsersFile(text, 'u.yaml')).toEqual({ users: new Map(), skipped: [] });
  });
});
