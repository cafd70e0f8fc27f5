/**
 * Users file, password hashes, refresh-token rotation and token signing, on real files in a temp
 * dir and through the real CLI for `users add`. The clock passed to TokenService is the only
 * stand-in: waiting 15 minutes for an access token to expire is not something a test can do.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenService } from '../../cluster-agent/agent/access-tokens.js';
import { hashPassword, verifyPassword } from '../../cluster-agent/identity/password-hash.js';
import { RefreshTokenStore } from '../../cluster-agent/state/refresh-token-file.js';
import { FileSigningKeyStore, LEGACY_SIGNING_KEY_FILE, loadOrCreateSigningKey, SIGNING_KEYS_FILE } from '../../cluster-agent/state/signing-key-file.js';
import { KEY_OVERLAP_SECONDS, Keyring, LiveKeyring, newKeyring, newSigningKeyPem, rotateKeyring, rotationDue, signingKeyFromPem } from '../../cluster-agent/state/signing-keys.js';
import { UserDirectory } from '../../cluster-agent/identity/user-directory.js';
import { readUsersFile, upsertUser } from '../../cluster-agent/identity/users-file.js';
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
    expect((await stat(join(dir.path, SIGNING_KEYS_FILE))).mode & 0o777).toBe(0o600);
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

describe('signing keys rotate', () => {
  it('rotateKeyring: the new key signs, the old ones verify for the overlap and then drop out', () => {
    const [a, b, c] = [newSigningKeyPem(), newSigningKeyPem(), newSigningKeyPem()];
    const one = newKeyring(a, 0);
    const two = rotateKeyring(one, b, 1000);
    expect(two.keys.map((k) => k.pem)).toEqual([b, a]);
    expect(two.keys[1]!.retiresAt).toBe(1000 + KEY_OVERLAP_SECONDS * 1000);
    // a second rotation inside the overlap keeps the first key's retirement, not a later one
    const three = rotateKeyring(two, c, 2000);
    expect(three.keys.map((k) => k.pem)).toEqual([c, b, a]);
    expect(three.keys[2]!.retiresAt).toBe(1000 + KEY_OVERLAP_SECONDS * 1000);
    const later = 1000 + KEY_OVERLAP_SECONDS * 1000 + 1;
    expect(Keyring.from(three, later).jwks().keys.map((k) => k.kid)).toEqual([signingKeyFromPem(c).kid, signingKeyFromPem(b).kid]);
    expect(rotateKeyring(three, a, later + KEY_OVERLAP_SECONDS * 1000).keys).toHaveLength(2); // retired keys are not carried on
    expect(rotationDue(one, 86_400_000, 86_400)).toBe(true);
    expect(rotationDue(one, 86_399_999, 86_400)).toBe(false);
    expect(rotationDue(one, 1e15, undefined)).toBe(false);
  });

  it('tokens of the old key verify through the overlap, new ones carry the new kid, and after it the old are refused', async () => {
    let now = Date.now();
    const store = new FileSigningKeyStore(dir.path, () => now);
    const ring = await new LiveKeyring(store, { now: () => now }).start();
    try {
      const service = new TokenService(ring, () => now);
      const before = (await service.issueAccessToken('alice')).token;
      const oldKid = ring.current.kid;
      await store.rotate();
      await ring.reload();
      expect(ring.current.kid).not.toBe(oldKid);
      const after = (await service.issueAccessToken('alice')).token;
      expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(ring.current.kid);
      expect(await service.verifyAccessToken(before)).toBe('alice');
      expect(ring.jwks().keys.map((k) => k.kid)).toEqual([ring.current.kid, oldKid]);
      now += KEY_OVERLAP_SECONDS * 1000 + 1000;
      await ring.reload();
      expect(ring.jwks().keys.map((k) => k.kid)).toEqual([ring.current.kid]);
      // (an access token lives 15 minutes, so by then it has expired anyway; a connect-free check of the kid:)
      const other = new TokenService({ current: signingKeyFromPem((await store.load()).keys[1]!.pem), find: () => Promise.resolve(undefined) }, () => now);
      const stale = (await other.issueAccessToken('alice')).token;
      await expect(service.verifyAccessToken(stale)).rejects.toMatchObject({ problem: 'invalid' });
    } finally {
      ring.stop();
    }
  });

  it('a running agent verifies a key rotated elsewhere at once (unknown kid: reload), and rotates by itself on a schedule', async () => {
    let now = Date.now();
    const elsewhere = new FileSigningKeyStore(dir.path, () => now);
    const ring = await new LiveKeyring(new FileSigningKeyStore(dir.path, () => now), { now: () => now, rotateEverySeconds: 86_400 }).start();
    try {
      const first = ring.current.kid;
      now += 10_000; // past the reload guard
      const doc = await elsewhere.rotate();
      const signer = new TokenService(signingKeyFromPem(doc.keys[0]!.pem), () => now);
      const token = (await signer.issueAccessToken('bob')).token;
      expect(await new TokenService(ring, () => now).verifyAccessToken(token)).toBe('bob');
      expect(ring.current.kid).not.toBe(first);
      const second = ring.current.kid;
      now += 86_400_000;
      await ring.reload();
      expect(ring.current.kid).not.toBe(second);
      expect((await elsewhere.load()).keys[0]!.createdAt).toBe(now);
    } finally {
      ring.stop();
    }
  });

  it('keeps the key of an agent from before rotation, and refuses a keyring file it cannot read', async () => {
    const pem = newSigningKeyPem();
    await writeFile(join(dir.path, LEGACY_SIGNING_KEY_FILE), pem, { mode: 0o600 });
    expect((await loadOrCreateSigningKey(dir.path)).kid).toBe(signingKeyFromPem(pem).kid);
    await writeFile(join(dir.path, SIGNING_KEYS_FILE), '{"version":1,');
    await expect(new FileSigningKeyStore(dir.path).load()).rejects.toThrow(/is not a signing keyring; move it away/);
  });

  it('`keys rotate` and `keys list` print the kids, the new one signing', async () => {
    const first = (await loadOrCreateSigningKey(dir.path)).kid;
    const rotated = await runCli(CLI, ['keys', 'rotate', '--data-dir', dir.path]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stderr).toMatch(/rotated the signing key/);
    const lines = rotated.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ signs$/);
    expect(lines[1]).toMatch(new RegExp(`^${first} .* verifies until `));
    const listed = await runCli(CLI, ['keys', 'list', '--data-dir', dir.path]);
    expect(listed.stdout).toBe(rotated.stdout);
    const bad = await runCli(CLI, ['keys', 'spin']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown keys subcommand "spin"/);
  });
});
