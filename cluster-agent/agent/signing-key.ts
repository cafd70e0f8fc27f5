/**
 * The agent's token-signing key (Ed25519), generated on first start and kept in the data dir (0600)
 * so access tokens stay valid across agent restarts. Never leaves the agent.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** key id in the JWT header, so a future key rotation can tell keys apart */
  kid: string;
}

export const SIGNING_KEY_FILE = 'signing-key.pem';

export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = join(dataDir, SIGNING_KEY_FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFileAtomic(path, pem, 0o600);
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }).x ?? 'ed25519';
  return { privateKey, publicKey, kid: raw.slice(0, 16) };
}
