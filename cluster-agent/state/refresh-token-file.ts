/**
 * Refresh tokens in a file in the data dir (0600), for one agent: the rules are in refresh-tokens.ts,
 * this only keeps the map. A corrupt file costs everybody a fresh sign-in; it must not stop the agent.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { decideRevoke, decideRotate, prune, RefreshEntry, REFRESH_TOKEN_SECONDS, refreshTokenDigest, signedInFields, type Entries, type RefreshOutcome, type RefreshTokens, type SignedInAs } from './refresh-tokens.js';

export const REFRESH_STORE_FILE = 'refresh-tokens.json';

const FileEntry = RefreshEntry.extend({ user: z.string() });
type FileEntry = z.infer<typeof FileEntry>;
const StoreFile = z.object({ version: z.literal(1), tokens: z.record(z.string(), FileEntry) });

export class RefreshTokenStore implements RefreshTokens {
  private tokens: Entries<FileEntry> = {};
  /** mutations run one at a time so two refreshes of the same token cannot both succeed */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly now: () => number,
  ) {}

  static async open(dataDir: string, now: () => number = Date.now): Promise<RefreshTokenStore> {
    const store = new RefreshTokenStore(join(dataDir, REFRESH_STORE_FILE), now);
    try {
      store.tokens = StoreFile.parse(JSON.parse(await readFile(store.path, 'utf8'))).tokens;
    } catch {
      store.tokens = {};
    }
    return store;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Writes first, then keeps: a write that fails changes nothing (the caller gets the error). */
  private async save(tokens: Entries<FileEntry>): Promise<void> {
    // The file holds everybody's tokens: the bound is per user in the Secret store, and this file's is its sum.
    const pruned = prune(tokens, this.now(), Number.MAX_SAFE_INTEGER);
    await writeFileAtomic(this.path, JSON.stringify({ version: 1, tokens: pruned }), 0o600);
    this.tokens = pruned;
  }

  private mint(): { hash: string; token: string } {
    const token = randomBytes(32).toString('base64url');
    return { hash: refreshTokenDigest(token), token };
  }

  issue(user: string, as?: SignedInAs): Promise<string> {
    return this.serialize(async () => {
      const next = this.mint();
      await this.save({ ...this.tokens, [next.hash]: { family: randomUUID(), user, expiresAt: this.now() + REFRESH_TOKEN_SECONDS * 1000, ...signedInFields(as) } });
      return next.token;
    });
  }

  rotate(token: string): Promise<RefreshOutcome> {
    return this.serialize(async () => {
      const d = decideRotate(this.tokens, refreshTokenDigest(token), this.now(), () => this.mint());
      if (d.write) await this.save(d.write);
      const { outcome, entry } = d.result;
      return outcome.ok ? { ...outcome, user: entry!.user } : outcome;
    });
  }

  revoke(token: string): Promise<void> {
    return this.serialize(async () => {
      const d = decideRevoke(this.tokens, refreshTokenDigest(token));
      if (d.write) await this.save(d.write);
    });
  }
}
