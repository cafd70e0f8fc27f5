/**
 * The agent's token-signing key (Ed25519), generated on first start and kept in the data dir (0600)
 * so access tokens stay valid across agent restarts. Never leaves the agent. With the Kubernetes
 * runtime it lives in a Secret instead, shared by every replica (runtime/kubernetes/signing-key-secret.ts).
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

/** A fresh Ed25519 key as PKCS#8 PEM. */
export function newSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = join(dataDir, SIGNING_KEY_FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    pem = newSigningKeyPem();
    await writeFileAtomic(path, pem, 0o600);
  }
  return signingKeyFromPem(pem);
}

/** Where the key is kept is the caller's business (a file here; a Kubernetes Secret for replicas). */
export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }).x ?? 'ed25519';
  return { privateKey, publicKey, kid: raw.slice(0, 16) };
}
