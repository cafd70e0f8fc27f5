/**
 * Where the refresh token lives: the OS keychain (Secret Service on Linux, via @napi-rs/keyring),
 * or, where there is none, memory only — then the sign-in does not survive a restart, and we say so.
 * Nothing here ever writes a token to a file of ours.
 */
import { AsyncEntry } from '@napi-rs/keyring';
import { randomBytes } from 'node:crypto';
import type { Logger } from './logger.js';

export interface SecretStore {
  /** "keychain" or "memory", for logs and the docs' promise about restarts */
  readonly kind: 'keychain' | 'memory';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory' as const;
  private readonly values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}

/** The keyring crate appends a Rust backtrace to its messages; a person needs the first line. */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}

export class KeyringSecretStore implements SecretStore {
  readonly kind = 'keychain' as const;
  constructor(private readonly service = 'porthole') {}

  private entry(key: string): AsyncEntry {
    return new AsyncEntry(this.service, key);
  }
  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.entry(key).getPassword()) ?? undefined;
    } catch (error) {
      throw new Error(`the OS keychain refused to read a secret: ${firstLine(error)}`);
    }
  }
  async set(key: string, value: string): Promise<void> {
    try {
      await this.entry(key).setPassword(value);
    } catch (error) {
      throw new Error(`the OS keychain refused to store a secret: ${firstLine(error)}`);
    }
  }
  async delete(key: string): Promise<void> {
    try {
      await this.entry(key).deleteCredential();
    } catch (error) {
      // Deleting what is not there is fine; anything else is worth knowing.
      if (!/no ?entry|not found/i.test(firstLine(error))) throw new Error(`the OS keychain refused to delete a secret: ${firstLine(error)}`);
    }
  }
}

/**
 * Proves the keychain works by writing, reading and deleting a probe item: with no Secret Service
 * (or a locked one) reads quietly return nothing, so only a write tells.
 */
export async function probeSecretStore(store: SecretStore): Promise<{ ok: true } | { ok: false; reason: string }> {
  const key = `probe-${randomBytes(6).toString('hex')}`;
  const value = randomBytes(12).toString('base64url');
  try {
    await store.set(key, value);
    const back = await store.get(key);
    await store.delete(key);
    return back === value ? { ok: true } : { ok: false, reason: 'the OS keychain did not give back what was stored' };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  }
}

/** The OS keychain when it works here, else memory (logged, since sign-in then ends with the process). */
export async function openSecretStore(logger: Logger, service = 'porthole'): Promise<SecretStore> {
  const keychain = new KeyringSecretStore(service);
  const probe = await probeSecretStore(keychain);
  if (probe.ok) {
    logger.info('keeping the sign-in in the OS keychain (Secret Service)');
    return keychain;
  }
  logger.warn(`no usable OS keychain (${probe.reason}); the sign-in is kept in memory only and will not survive a restart of Porthole`);
  return new MemorySecretStore();
}
