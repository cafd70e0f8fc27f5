/**
 * Where the refresh token lives: the OS keychain (Secret Service on Linux, via @napi-rs/keyring),
 * or, where there is none or it is locked, memory only — then the sign-in ends with the process, no
 * offline workspace is kept, and the launcher says so on screen (LauncherState.keychain). Nothing here
 * ever writes a secret to a file of ours: there is no plaintext fallback.
 */
import { AsyncEntry } from '@napi-rs/keyring';
import { randomBytes } from 'node:crypto';
import type { Logger } from './logger.js';

export interface SecretStore {
  /** "keychain" or "memory", for logs and the docs' promise about restarts */
  readonly kind: 'keychain' | 'memory';
  /** set when the OS keychain was wanted but cannot be used: the sentence the launcher shows */
  readonly problem?: string;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory' as const;
  private readonly values = new Map<string, string>();
  /** why the OS keychain is not used, when it was wanted (shown to the person) */
  constructor(readonly problem?: string) {}
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

/** A locked keychain may wait for an unlock prompt nobody can answer (a kiosk, no display): give up then. */
export const KEYCHAIN_PROBE_TIMEOUT_MS = 5_000;

/**
 * Proves the keychain works by writing, reading and deleting a probe item: with no Secret Service
 * (or a locked one) reads quietly return nothing, so only a write tells.
 */
export async function probeSecretStore(store: SecretStore, timeoutMs = KEYCHAIN_PROBE_TIMEOUT_MS): Promise<{ ok: true } | { ok: false; reason: string }> {
  const key = `probe-${randomBytes(6).toString('hex')}`;
  const value = randomBytes(12).toString('base64url');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`the OS keychain did not answer within ${timeoutMs / 1000} s (locked, waiting for a password prompt?)`)), timeoutMs);
    timer.unref();
  });
  try {
    const roundTrip = (async () => {
      await store.set(key, value);
      const back = await store.get(key);
      await store.delete(key);
      return back;
    })();
    const back = await Promise.race([roundTrip, timedOut]);
    return back === value ? { ok: true } : { ok: false, reason: 'the OS keychain did not give back what was stored' };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** What the person reads when there is no usable keychain: what it means and what fixes it. */
export function keychainProblemSentence(reason: string): string {
  return `Porthole cannot use this computer's keychain (${reason}). You can sign in, but you will be signed out when Porthole closes and no offline copy of your workspace is kept. Unlock the keychain (or start one, such as GNOME Keyring) and restart Porthole.`;
}

/** The OS keychain when it works here, else memory that says why (the launcher shows it). */
export async function openSecretStore(logger: Logger, service = 'porthole'): Promise<SecretStore> {
  const keychain = new KeyringSecretStore(service);
  const probe = await probeSecretStore(keychain);
  if (probe.ok) {
    logger.info('keeping the sign-in in the OS keychain (Secret Service)');
    return keychain;
  }
  logger.warn(`no usable OS keychain (${probe.reason}); the sign-in is kept in memory only and will not survive a restart of Porthole`);
  return new MemorySecretStore(keychainProblemSentence(probe.reason));
}
