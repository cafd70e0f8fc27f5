/**
 * The offline profile: what the launcher needs to show a person's workspace when the agent cannot be
 * reached (their /me, recent sessions, the agent's URL and TLS certificate fingerprint), encrypted at
 * rest with AES-256-GCM under a key that lives only in the OS keychain. One file per person and agent;
 * a file that was altered, cannot be read, or is of another version is discarded with a sentence, never
 * half-used. On a shared device the caches have a maximum age and count.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Me, Session } from '../../cluster-agent/contract/index.js';
import type { SecretStore } from './secret-store.js';

export const PROFILE_VERSION = 1;
const MAGIC = Buffer.from('PHPROF');
const KEY_NAME = 'profile-cache-key';

export const Profile = z.object({
  version: z.literal(PROFILE_VERSION),
  agentUrl: z.string(),
  /** SHA-256 of the agent's TLS certificate, when it was reached over https */
  tlsFingerprint: z.string().optional(),
  user: z.string(),
  me: Me,
  recentSessions: z.array(Session),
  savedAt: z.number(),
});
export type Profile = z.infer<typeof Profile>;

export type ProfileRead = { ok: true; profile: Profile } | { ok: false; reason: 'missing' | 'tampered' | 'unreadable' | 'version'; message: string };

/** Pure: the sealed bytes. The header (magic + version) is authenticated too, so it cannot be swapped. */
export function seal(profile: Profile, key: Buffer): Buffer {
  const iv = randomBytes(12);
  const header = Buffer.concat([MAGIC, Buffer.from([PROFILE_VERSION])]);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(JSON.stringify(profile), 'utf8'), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

/** Pure: the profile, or why not. */
export function open(bytes: Buffer, key: Buffer): ProfileRead {
  const header = bytes.subarray(0, MAGIC.length + 1);
  if (bytes.length < MAGIC.length + 1 + 12 + 16 || !header.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, reason: 'unreadable', message: 'The saved workspace is not a Porthole profile; it was discarded' };
  if (header[MAGIC.length] !== PROFILE_VERSION) return { ok: false, reason: 'version', message: `The saved workspace is from another version of Porthole (format ${header[MAGIC.length]}); it was discarded` };
  const iv = bytes.subarray(header.length, header.length + 12);
  const tag = bytes.subarray(header.length + 12, header.length + 28);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(header);
    decipher.setAuthTag(tag);
    const text = Buffer.concat([decipher.update(bytes.subarray(header.length + 28)), decipher.final()]).toString('utf8');
    const parsed = Profile.safeParse(JSON.parse(text));
    if (!parsed.success) return { ok: false, reason: 'version', message: 'The saved workspace does not match this version of Porthole; it was discarded' };
    return { ok: true, profile: parsed.data };
  } catch {
    return { ok: false, reason: 'tampered', message: 'The saved workspace was changed or damaged since it was written; it was discarded' };
  }
}

/** Pure: which cached profiles to drop: older than `maxAgeMs`, then the least recently saved beyond `maxCount`. */
export function toPrune(files: Array<{ name: string; mtimeMs: number }>, now: number, maxAgeMs: number, maxCount: number): string[] {
  const old = files.filter((f) => now - f.mtimeMs > maxAgeMs).map((f) => f.name);
  const rest = files.filter((f) => now - f.mtimeMs <= maxAgeMs).sort((a, b) => b.mtimeMs - a.mtimeMs);
  return [...old, ...rest.slice(maxCount).map((f) => f.name)];
}

export const profileFileName = (agentUrl: string, user: string) => `${createHash('sha256').update(`${agentUrl}\n${user}`).digest('hex').slice(0, 32)}.profile`;

export class ProfileCache {
  constructor(
    private readonly dir: string,
    private readonly secrets: SecretStore,
    private readonly limits: { maxAgeMs: number; maxCount: number } = { maxAgeMs: 30 * 24 * 3600_000, maxCount: 20 },
  ) {}

  /** The key from the keychain, made on first use; a keychain that refuses is an error, never a plaintext file. */
  private async key(create: boolean): Promise<Buffer | undefined> {
    const stored = await this.secrets.get(KEY_NAME);
    if (stored) return Buffer.from(stored, 'base64');
    if (!create) return undefined;
    const key = randomBytes(32);
    await this.secrets.set(KEY_NAME, key.toString('base64'));
    return key;
  }

  async save(profile: Omit<Profile, 'version' | 'savedAt'>, now = Date.now()): Promise<void> {
    const key = (await this.key(true))!;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, profileFileName(profile.agentUrl, profile.user));
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, seal({ ...profile, version: PROFILE_VERSION, savedAt: now }, key), { mode: 0o600 });
    await rename(tmp, path);
    await this.prune(now);
  }

  async load(agentUrl: string, user: string): Promise<ProfileRead> {
    const path = join(this.dir, profileFileName(agentUrl, user));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return { ok: false, reason: 'missing', message: 'There is no saved workspace for this person on this device' };
    }
    const key = await this.key(false);
    const read: ProfileRead = key ? open(bytes, key) : { ok: false, reason: 'unreadable', message: "The saved workspace's key is not in the keychain any more; it was discarded" };
    if (!read.ok) await rm(path, { force: true });
    return read;
  }

  /** Sign-out: that person's cache goes. */
  async remove(agentUrl: string, user: string): Promise<void> {
    await rm(join(this.dir, profileFileName(agentUrl, user)), { force: true });
  }

  /** "Forget this device": every cache and the key. */
  async removeAll(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await this.secrets.delete(KEY_NAME);
  }

  private async prune(now: number): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.profile'));
    const files = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await stat(join(this.dir, name))).mtimeMs })));
    for (const name of toPrune(files, now, this.limits.maxAgeMs, this.limits.maxCount)) await rm(join(this.dir, name), { force: true });
  }
}
