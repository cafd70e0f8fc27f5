/**
 * Users file, password hashes, refresh-token rotation and token signing, on real files in a temp
 * dir and through the real CLI for `users add`. The clock passed to TokenService is the only
 * stand-in: waiting 15 minutes for an access token to expire is not something a test can do.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../cluster-agent/agent/access-tokens.js';
import { hashPassword, verifyPassword } from '../../cluster-agent/agent/password-hash.js';
import { RefreshTokenStore } from '../../cluster-agent/agent/refresh-tokens.js';
import { loadOrCreateSigningKey } from '../../cluster-agent/agent/signing-key.js';
import { UserDirectory } from '../../cluster-agent/agent/user-directory.js';
import { readUsersFile, upsertUser } from '../../cluster-agent/agent/users-file.js';
import { runCli, tempDir } from '../support/processes.js';

const CLI = 'cluster-agent/agent/cli.ts';
let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir('agent-cred');
});
afterEach(() => dir.remove());

describe('users file', { timeout: 90_000 }, () => {
  it('`users add` creates a 0600 file and adding another user keeps the first', async () => {
    const file = join(dir.path, 'sub', 'users.yaml');
    const a = await runCli(CLI, ['users', 'add', 'alice', '--file', file, '--password-stdin', '--groups', 'dev,ops'], 'alice-pw\n');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('added user alice');
    const b = await runCli(CLI, ['users', 'add', 'bob', '--file', file, '--password-stdin'], 'bob-pw');
    expect(b.code, b.stderr).toBe(0);

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { users } = await readUsersFile(file);
    expect([...users.keys()]).toEqual(['alice', 'bob']);
    expect(users.get('alice')!.groups).toEqual(['dev', 'ops']);
    // the trailing newline from the shell is not part of the password
    expect(await verifyPassword('alice-pw', users.get('alice')!.passwordHash)).toBe(true);
    expect(await readFile(file, 'utf8')).not.toContain('alice-pw');
    // no temp files left behind by the atomic write
    expect(await readdir(join(dir.path, 'sub'))).toEqual(['users.yaml']);
  });

  it('changing a password keeps the user\'s groups and everyone else', async () => {
    const file = join(dir.path, 'users.yaml');
    await upsertUser(file, 'alice', 'one', ['dev']);
    await upsertUser(file, 'bob', 'two', undefined);
    const again = await runCli(CLI, ['users', 'add', 'alice', '--file', file, '--password-stdin'], 'three');
    expect(again.stdout).toContain('updated user alice');
    const { users } = await readUsersFile(file);
    expect(users.get('alice')!.groups).toEqual(['dev']);
    expect(await verifyPassword('three', users.get('alice')!.passwordHash)).toBe(true);
    expect(await verifyPassword('two', users.get('bob')!.passwordHash)).toBe(true);
  });

  it('refuses bad names, an empty password and a broken file with a sentence, exit 2', async () => {
    const file = join(dir.path, 'users.yaml');
    const bad = await runCli(CLI, ['users', 'add', 'Alice!', '--file', file, '--password-stdin'], 'pw');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a valid user name/);
    const empty = await runCli(CLI, ['users', 'add', 'alice', '--file', file, '--password-stdin'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no password on stdin/);
    await writeFile(file, 'users: [not, a, map]\n');
    const broken = await runCli(CLI, ['users', 'add', 'alice', '--file', file, '--password-stdin'], 'pw');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(file);
    expect(await readFile(file, 'utf8')).toBe('users: [not, a, map]\n'); // nothing lost
  });

  it('salts hashes: the same password twice gives different hashes', async () => {
    const [h1, h2] = [await hashPassword('same'), await hashPassword('same')];
    expect(h1).not.toBe(h2);
    expect(h1).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
  });

  it('picks up a changed users file without a restart, and keeps the last good one if it breaks', async () => {
    const file = join(dir.path, 'users.yaml');
    await upsertUser(file, 'alice', 'pw', []);
    const users = new UserDirectory(file);
    expect(await users.authenticate('alice', 'pw')).toBeTruthy();
    expect(await users.authenticate('dave', 'pw')).toBeUndefined();
    await upsertUser(file, 'dave', 'pw', []);
    expect(await users.authenticate('dave', 'pw')).toBeTruthy();
    expect(await users.authenticate('dave', 'wrong')).toBeUndefined();
    await writeFile(file, ': : not yaml [');
    expect(await users.authenticate('alice', 'pw')).toBeTruthy();
  });

  it('takes as long for an unknown user as for a wrong password (no user-name oracle)', async () => {
    const file = join(dir.path, 'users.yaml');
    await upsertUser(file, 'alice', 'pw', []);
    const users = new UserDirectory(file);
    await users.authenticate('alice', 'warm-up');
    const time = async (name: string) => {
      const t = performance.now();
      for (let i = 0; i < 4; i++) await users.authenticate(name, 'wrong');
      return performance.now() - t;
    };
    const [known, unknown] = [await time('alice'), await time('nobody')];
    expect(unknown / known).toBeGreaterThan(0.5);
    expect(unknown / known).toBeLessThan(2);
  });
});

describe('refresh tokens', () => {
  it('rotate on every refresh, survive a restart and are stored only hashed', async () => {
    const store = await RefreshTokenStore.open(dir.path);
    const t1 = await store.issue('alice');
    const r1 = await store.rotate(t1);
    expect(r1).toMatchObject({ ok: true, user: 'alice' });
    const t2 = (r1 as { token: string }).token;
    expect(t2).not.toBe(t1);

    const file = join(dir.path, 'refresh-tokens.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(t2);

    const reopened = await RefreshTokenStore.open(dir.path);
    expect(await reopened.rotate(t2)).toMatchObject({ ok: true, user: 'alice' });
  });

  it('reusing a rotated token revokes the whole family, including the newest token', async () => {
    const store = await RefreshTokenStore.open(dir.path);
    const other = await store.issue('alice'); // another device: a different family
    const t1 = await store.issue('alice');
    const t2 = ((await store.rotate(t1)) as { token: string }).token;
    expect(await store.rotate(t1)).toEqual({ ok: false, problem: 'reused' });
    expect(await store.rotate(t2)).toEqual({ ok: false, problem: 'unknown' });
    expect(await store.rotate(other)).toMatchObject({ ok: true });
  });

  it('only one of two simultaneous refreshes with the same token wins', async () => {
    const store = await RefreshTokenStore.open(dir.path);
    const t = await store.issue('alice');
    const results = await Promise.all([store.rotate(t), store.rotate(t)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('logout revokes', async () => {
    const store = await RefreshTokenStore.open(dir.path);
    const t = await store.issue('alice');
    await store.revoke(t);
    expect(await store.rotate(t)).toEqual({ ok: false, problem: 'unknown' });
  });
});

describe('signed tokens', () => {
  it('keeps one signing key (0600) across restarts', async () => {
    const k1 = await loadOrCreateSigningKey(dir.path);
    const token = (await new TokenService(k1).issueAccessToken('alice')).token;
    const k2 = await loadOrCreateSigningKey(dir.path);
    expect(await new TokenService(k2).verifyAccessToken(token)).toBe('alice');
    expect((await stat(join(dir.path, 'signing-key.pem'))).mode & 0o777).toBe(0o600);
  });

  it('tells expired access tokens from forged ones', async () => {
    const key = await loadOrCreateSigningKey(dir.path);
    const past = new TokenService(key, () => Date.now() - 16 * 60_000);
    const expired = (await past.issueAccessToken('alice')).token;
    const service = new TokenService(key);
    await expect(service.verifyAccessToken(expired)).rejects.toMatchObject({ problem: 'expired' });
    const foreign = (await new TokenService(await loadOrCreateSigningKey(join(dir.path, 'other'))).issueAccessToken('alice')).token;
    await expect(service.verifyAccessToken(foreign)).rejects.toMatchObject({ problem: 'invalid' });
  });

  it('connect tokens: one use, one session, one minute, and not usable as access tokens', async () => {
    const key = await loadOrCreateSigningKey(dir.path);
    const service = new TokenService(key);
    const { token, expiresAt } = await service.issueConnectToken('alice', 's1');
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    await expect(service.verifyAccessToken(token)).rejects.toMatchObject({ problem: 'invalid' });
    await expect(service.consumeConnectToken(token, 's2')).rejects.toMatchObject({ problem: 'wrong_session' });
    expect(await service.consumeConnectToken(token, 's1')).toMatchObject({ user: 'alice', session: 's1' });
    await expect(service.consumeConnectToken(token, 's1')).rejects.toMatchObject({ problem: 'reused' });
    const old = (await new TokenService(key, () => Date.now() - 61_000).issueConnectToken('alice', 's1')).token;
    await expect(service.consumeConnectToken(old, 's1')).rejects.toMatchObject({ problem: 'expired' });
  });
});
