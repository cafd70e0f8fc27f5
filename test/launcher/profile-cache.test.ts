/**
 * The encrypted offline profile (main/core/profile-cache.ts) on a real file system: what is written is
 * not readable without the key, comes back whole, and is discarded with a sentence when a byte is
 * changed, the version differs or the key is gone; sign-out removes one person's, "forget this
 * device" everything and the key; a shared device keeps at most N, none older than the limit. The key
 * store here is the in-memory SecretStore (the real keychain is tested in keychain.test.ts); a keychain
 * that refuses is an error, never a plaintext file.
 */
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySecretStore, type SecretStore } from '../../main/core/secret-store.js';
import { open, ProfileCache, profileFileName, seal, toPrune, type Profile } from '../../main/core/profile-cache.js';
import { tempDir } from '../support/processes.js';

const dir = tempDir('profile');
afterAll(() => dir.remove());

const me = { user: { name: 'ann', groups: ['designers'] }, templates: [], preferences: {} } as unknown as Profile['me'];
const profile = (user = 'ann') => ({ agentUrl: 'https://porthole.example.org', user, me: { ...me, user: { name: user, groups: [] } }, recentSessions: [], tlsFingerprint: 'ab:cd' });

describe('the offline profile', () => {
  it('is encrypted at rest and comes back whole; a changed byte, another version or a lost key discards it with a sentence', async () => {
    const secrets = new MemorySecretStore();
    const cache = new ProfileCache(join(dir.path, 'a'), secrets);
    await cache.save(profile());
    const file = join(dir.path, 'a', profileFileName('https://porthole.example.org', 'ann'));
    const bytes = await readFile(file);
    expect(bytes.toString('latin1')).not.toContain('designers');
    expect(bytes.toString('latin1')).not.toContain('porthole.example.org');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const read = await cache.load('https://porthole.example.org', 'ann');
    expect(read.ok && read.profile.me.user.name).toBe('ann');

    const changed = Buffer.from(bytes);
    changed[changed.length - 3]! ^= 1;
    await writeFile(file, changed);
    expect(await cache.load('https://porthole.example.org', 'ann')).toMatchObject({ ok: false, reason: 'tampered', message: expect.stringMatching(/changed or damaged.*discarded/) });
    expect(await readdir(join(dir.path, 'a'))).toEqual([]); // discarded

    const other = Buffer.from(bytes);
    other[6] = 9;
    await writeFile(file, other);
    expect(await cache.load('https://porthole.example.org', 'ann')).toMatchObject({ ok: false, reason: 'version', message: expect.stringMatching(/another version of Porthole/) });

    await cache.save(profile());
    await secrets.delete('profile-cache-key');
    expect(await cache.load('https://porthole.example.org', 'ann')).toMatchObject({ ok: false, reason: 'unreadable', message: expect.stringMatching(/key is not in the keychain/) });
    expect(await cache.load('https://porthole.example.org', 'nobody')).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('a key from elsewhere cannot open it, and the header cannot be swapped', () => {
    const key = Buffer.alloc(32, 1);
    const sealed = seal({ ...profile(), version: 1, savedAt: 0 }, key);
    expect(open(sealed, Buffer.alloc(32, 2))).toMatchObject({ ok: false, reason: 'tampered' });
    expect(open(Buffer.from('not a profile at all, really'), key)).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(open(sealed, key).ok).toBe(true);
  });

  it('sign-out removes that person; forget-this-device removes everything and the key; shared devices are bounded', async () => {
    const secrets = new MemorySecretStore();
    const cache = new ProfileCache(join(dir.path, 'b'), secrets, { maxAgeMs: 3600_000, maxCount: 2 });
    await cache.save(profile('ann'));
    await cache.save(profile('bob'));
    await cache.remove('https://porthole.example.org', 'ann');
    expect((await cache.load('https://porthole.example.org', 'ann')).ok).toBe(false);
    expect((await cache.load('https://porthole.example.org', 'bob')).ok).toBe(true);
    // an old cache goes at the next save, and beyond two the least recently saved
    const bobFile = join(dir.path, 'b', profileFileName('https://porthole.example.org', 'bob'));
    const past = new Date(Date.now() - 2 * 3600_000);
    await utimes(bobFile, past, past);
    await cache.save(profile('cid'));
    expect((await cache.load('https://porthole.example.org', 'bob')).ok).toBe(false);
    await cache.save(profile('dan'));
    await cache.save(profile('eve'));
    expect((await readdir(join(dir.path, 'b'))).length).toBe(2);
    await cache.removeAll();
    expect(await secrets.get('profile-cache-key')).toBeUndefined();
    await expect(readdir(join(dir.path, 'b'))).rejects.toThrow(/ENOENT/);
    expect(toPrune([{ name: 'a', mtimeMs: 0 }, { name: 'b', mtimeMs: 90 }, { name: 'c', mtimeMs: 80 }], 100, 50, 1)).toEqual(['a', 'c']);
  });

  it('a keychain that refuses is an error, and nothing is written', async () => {
    const refusing: SecretStore = { kind: 'keychain', get: () => Promise.reject(new Error('the OS keychain refused to read a secret: locked')), set: () => Promise.reject(new Error('locked')), delete: () => Promise.resolve() };
    const cache = new ProfileCache(join(dir.path, 'c'), refusing);
    await expect(cache.save(profile())).rejects.toThrow(/keychain refused/);
    await expect(readdir(join(dir.path, 'c'))).rejects.toThrow(/ENOENT/);
  });
});
