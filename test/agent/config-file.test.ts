/**
 * `serve --config FILE`: the YAML's settings stand for flags (flags win), identity lives there, and every
 * mistake exits 2 with a sentence naming the key; a real agent started from a config file signs people in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeArgs, parseConfig } from '../../cluster-agent/agent/config-file.js';
import { routes } from '../../cluster-agent/contract/index.js';
import { runCli, startCli, stopProcess, tempDir, type Started } from '../support/processes.js';
import { call } from './support.js';

const CLI = 'cluster-agent/agent/cli.ts';
const dir = tempDir('config');
const started: Started[] = [];
afterAll(async () => {
  for (const s of started) await stopProcess(s.child);
  dir.remove();
});

describe('the config file (pure)', () => {
  it('stands for flags, with paths relative to the file, and the command line wins', () => {
    const { args, ldap } = parseConfig(
      ['runtime: local', 'listen: 127.0.0.1:0', 'dataDir: data', 'idleTimeout: 600', 'stun: [stun:a:3478, stun:b:3478]', 'identity:', '  usersFile: /etc/porthole/users.yaml', '  ldap:', '    url: ldap://127.0.0.1:389', '    userDn: "uid={user},ou=people,dc=x"', '    caFile: ca.pem'].join('\n'),
      '/srv/porthole/agent.yaml',
    );
    expect(args).toEqual(['--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', '/srv/porthole/data', '--idle-timeout', '600', '--stun', 'stun:a:3478', '--stun', 'stun:b:3478', '--users', '/etc/porthole/users.yaml']);
    expect(ldap).toMatchObject({ url: 'ldap://127.0.0.1:389', caFile: '/srv/porthole/ca.pem' });
    expect(mergeArgs(args, ['--idle-timeout', '60', '--stun', 'stun:c:3478'])).toEqual(['--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', '/srv/porthole/data', '--idle-timeout', '600', '--users', '/etc/porthole/users.yaml', '--idle-timeout', '60', '--stun', 'stun:c:3478']);
  });

  it.each([
    ['listn: x', /unknown key listn/],
    ['identity:\n  ldap:\n    url: ldap://h\n    userDn: "uid={user}"\n    urll: y', /unknown key identity\.ldap\.urll/],
    ['identity:\n  ldap:\n    url: http://h\n    userDn: "uid={user}"', /identity\.ldap\.url must be ldap:\/\/HOST\[:PORT\] or ldaps:\/\//],
    ['identity:\n  ldap:\n    url: ldap://h\n    userDn: "uid=x"', /identity\.ldap\.userDn must contain \{user\}/],
    ['identity:\n  ldap:\n    url: ldap://h\n    bindDn: cn=r', /identity\.ldap\.bindPasswordFile is needed with bindDn/],
    ['identity:\n  ldap:\n    url: ldaps://h\n    userDn: "uid={user}"\n    startTls: true', /identity\.ldap\.startTls is for ldap:\/\/ URLs/],
    ['idleTimeout: soon', /idleTimeout expected number/],
    ['runtime: [', /not valid YAML/],
  ])('%s -> a sentence naming the key', (text, message) => {
    expect(() => parseConfig(text, 'agent.yaml')).toThrow(message);
  });
});

describe('porthole-agent serve --config', { timeout: 90_000 }, () => {
  it('starts from the file and signs in its users; a bad file exits 2 naming the key', async () => {
    const users = join(dir.path, 'users.yaml');
    expect((await runCli(CLI, ['users', 'add', 'cora', '--file', users, '--password-stdin'], 'cora-pw')).code).toBe(0);
    const cfg = join(dir.path, 'agent.yaml');
    writeFileSync(cfg, ['runtime: local', 'listen: 127.0.0.1:1', 'dataDir: data', 'identity:', '  usersFile: users.yaml', ''].join('\n'));
    // The flag wins over the file's listen (port 1 would fail).
    const s = await startCli(CLI, ['serve', '--config', cfg, '--listen', '127.0.0.1:0'], /^listening on (\S+)/, 60_000);
    started.push(s);
    const url = s.match[1]!;
    expect((await call(url, 'POST', routes.login, { json: { username: 'cora', password: 'cora-pw' } })).status).toBe(200);
    expect((await call(url, 'GET', routes.providers)).body).toEqual({ password: true });

    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'identity:\n  ldap:\n    url: ldap://127.0.0.1:1\n    usrDn: "uid={user}"\n');
    const r = await runCli(CLI, ['serve', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}: unknown key identity.ldap.usrDn`);
    const missing = await runCli(CLI, ['serve', '--config', join(dir.path, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --config .*nope\.yaml: ENOENT/);
    writeFileSync(bad, 'runtime: local\nlisten: 127.0.0.1:0\nidentity:\n  ldap:\n    url: ldap://127.0.0.1:1\n    userDn: "uid={user}"\n    caFile: no-such-ca.pem\n');
    const noCa = await runCli(CLI, ['serve', '--config', bad, '--data-dir', join(dir.path, 'd2')]);
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toMatch(/identity\.ldap: ENOENT.*no-such-ca\.pem/);
  });
});
