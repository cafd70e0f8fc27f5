/**
 * The keyring in the data dir (`signing-keys.json`, 0600), for one agent. An agent from before key
 * rotation kept one key in `signing-key.pem`: that key becomes the ring's first, so its tokens stay valid.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { KeyringDoc, newKeyring, newSigningKeyPem, rotateKeyring, signingKeyFromPem, type SigningKey, type SigningKeyStore } from './signing-keys.js';

export const SIGNING_KEYS_FILE = 'signing-keys.json';
export const LEGACY_SIGNING_KEY_FILE = 'signing-key.pem';

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class FileSigningKeyStore implements SigningKeyStore {
  private readonly path: string;

  constructor(
    private readonly dataDir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(dataDir, SIGNING_KEYS_FILE);
  }

  async load(): Promise<KeyringDoc> {
    const text = await readIfThere(this.path);
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const parsed = KeyringDoc.safeParse(json);
      if (!parsed.success) throw new Error(`${this.path} is not a signing keyring; move it away to start with a new key (everyone signs in again)`);
      return parsed.data;
    }
    const legacyPath = join(this.dataDir, LEGACY_SIGNING_KEY_FILE);
    const legacy = await readIfThere(legacyPath);
    const doc = legacy !== undefined ? newKeyring(legacy, (await stat(legacyPath)).mtimeMs) : newKeyring(newSigningKeyPem(), this.now());
    await writeFileAtomic(this.path, JSON.stringify(doc), 0o600);
    return doc;
  }

  async rotate(overlapSeconds?: number): Promise<KeyringDoc> {
    const doc = rotateKeyring(await this.load(), newSigningKeyPem(), this.now(), overlapSeconds);
    await writeFileAtomic(this.path, JSON.stringify(doc), 0o600);
    return doc;
  }
}

/** The data dir's current signing key (made when there is none): for tools and tests that sign as the agent. */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  return signingKeyFromPem((await new FileSigningKeyStore(dataDir).load()).keys[0]!.pem);
}
