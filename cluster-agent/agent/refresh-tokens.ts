/**
 * Refresh tokens: opaque random strings; only their SHA-256 is stored (data dir, 0600), so a copy of
 * the file does not let anyone sign in. Every refresh rotates the token. A rotated token presented
 * again means two parties hold the same token (it leaked), so the whole family (every token
 * descended from that login) is revoked and the user signs in again.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';

export const REFRESH_TOKEN_SECONDS = 14 * 24 * 3600;
export const REFRESH_STORE_FILE = 'refresh-tokens.json';

const Entry = z.object({
  family: z.string(),
  user: z.string(),
  expiresAt: z.number(),
  /** set once the token has been exchanged for a new one */
  rotatedAt: z.number().optional(),
});
type Entry = z.infer<typeof Entry>;
const StoreFile = z.object({ version: z.literal(1), tokens: z.record(z.string(), Entry) });

export type RefreshOutcome =
  | { ok: true; user: string; token: string }
  | { ok: false; problem: 'unknown' | 'expired' | 'reused' };

/**
 * Where refresh tokens live: this file store (local runtime, one agent) or Secrets in the cluster
 * (kubernetes runtime: every replica sees the same tokens; runtime/kubernetes/refresh-token-secrets.ts).
 */
export interface RefreshTokens {
  /** A new family, at login. */
  issue(user: string): Promise<string>;
  /** Exchanges a token for a new one of the same family; a rotated token presented again revokes the family. */
  rotate(token: string): Promise<RefreshOutcome>;
  /** Logout: the presented token's whole family ends. Unknown tokens are fine (idempotent). */
  revoke(token: string): Promise<void>;
}

export const refreshTokenDigest = (token: string) => createHash('sha256').update(token).digest('base64url');
const digest = refreshTokenDigest;

export class RefreshTokenStore implements RefreshTokens {
  private tokens = new Map<string, Entry>();
  /** mutations run one at a time so two refreshes of the same token cannot both succeed */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly now: () => number,
  ) {}

  static async open(dataDir: string, now: () => number = Date.now): Promise<RefreshTokenStore> {
    const store = new RefreshTokenStore(join(dataDir, REFRESH_STORE_FILE), now);
    try {
      const parsed = StoreFile.parse(JSON.parse(await readFile(store.path, 'utf8')));
      store.tokens = new Map(Object.entries(parsed.tokens));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // A corrupt store only costs everybody a fresh sign-in; it must not stop the agent.
        store.tokens = new Map();
      }
    }
    return store;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persist(): Promise<void> {
    const now = this.now();
    for (const [h, e] of this.tokens) if (e.expiresAt < now) this.tokens.delete(h);
    await writeFileAtomic(this.path, JSON.stringify({ version: 1, tokens: Object.fromEntries(this.tokens) }), 0o600);
  }

  private mint(user: string, family: string): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(digest(token), { family, user, expiresAt: this.now() + REFRESH_TOKEN_SECONDS * 1000 });
    return token;
  }

  /** A new family, at login. */
  issue(user: string): Promise<string> {
    return this.serialize(async () => {
      const token = this.mint(user, randomUUID());
      await this.persist();
      return token;
    });
  }

  rotate(token: string): Promise<RefreshOutcome> {
    return this.serialize(async () => {
      const entry = this.tokens.get(digest(token));
      if (!entry) return { ok: false, problem: 'unknown' } as const;
      if (entry.rotatedAt !== undefined) {
        this.revokeFamily(entry.family);
        await this.persist();
        return { ok: false, problem: 'reused' } as const;
      }
      if (entry.expiresAt < this.now()) return { ok: false, problem: 'expired' } as const;
      entry.rotatedAt = this.now();
      const next = this.mint(entry.user, entry.family);
      await this.persist();
      return { ok: true, user: entry.user, token: next } as const;
    });
  }

  /** Logout: the presented token's whole family ends. Unknown tokens are fine (idempotent). */
  revoke(token: string): Promise<void> {
    return this.serialize(async () => {
      const entry = this.tokens.get(digest(token));
      if (!entry) return;
      this.revokeFamily(entry.family);
      await this.persist();
    });
  }

  private revokeFamily(family: string): void {
    for (const [h, e] of this.tokens) if (e.family === family) this.tokens.delete(h);
  }
}
