/**
 * Who may sign in: the users file, re-read whenever it changes on disk so `porthole-agent users add`
 * takes effect without restarting the agent. A stat per lookup is cheaper and more reliable than
 * fs.watch (which misses atomic renames on some file systems).
 *
 * A bad entry is skipped (and named in a warning); the other users still sign in. A file that
 * cannot be read at all keeps the last good list, or, when there never was one (a broken file at
 * start-up), makes the directory unusable: lookups throw UsersUnavailableError (503) and /readyz
 * says why, until the file is fixed; no restart is needed. Nothing from the file's contents is
 * logged: it holds password hashes.
 */
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { describeSkipped, readUsersFile, UsersFileError, type UserRecord } from './users-file.js';
import { verifyAgainstDecoy, verifyPassword } from './password-hash.js';

/** Nobody can sign in: the users file could not be read, and no earlier version of it was. */
export class UsersUnavailableError extends Error {}

export type UsersHealth = { ok: true } | { ok: false; message: string };

export class UserDirectory {
  private users = new Map<string, UserRecord>();
  /** inode:size:mtime of the file last read, successfully or not: the same bytes are not re-read or re-logged */
  private signature: string | undefined;
  private loadedOnce = false;
  private problem: string | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly logger?: Logger,
  ) {}

  private async refresh(): Promise<void> {
    let sig: string;
    try {
      const s = await stat(this.path);
      sig = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      sig = 'missing';
    }
    if (sig === this.signature) return;
    this.signature = sig;
    let reason: string;
    try {
      const { users, skipped } = await readUsersFile(this.path);
      for (const s of skipped) {
        this.logger?.warn({ path: this.path, line: s.line, user: s.user }, `users file: skipping the entry at line ${s.line}${s.user ? ` (${s.user})` : ''}: ${s.problem}`);
      }
      if (users.size > 0 || skipped.length === 0) {
        this.users = users;
        this.loadedOnce = true;
        this.problem = undefined;
        this.logger?.info({ path: this.path, users: users.size, skipped: skipped.length }, 'users file loaded');
        return;
      }
      reason = `none of its entries can be used (${describeSkipped(this.path, skipped)})`;
    } catch (err) {
      if (!(err instanceof UsersFileError)) {
        this.signature = undefined; // unexpected: try again next time
        throw err;
      }
      reason = err.message;
    }
    if (this.loadedOnce) {
      // A half-edited file must not lock everybody out: keep the last good list.
      this.logger?.error({ path: this.path }, `users file unusable, keeping the previous ${this.users.size} users: ${reason}`);
      return;
    }
    this.problem = `Nobody can sign in: the users file cannot be used: ${reason}. Fix the file; the agent picks it up without a restart`;
    this.logger?.error({ path: this.path }, this.problem);
  }

  private async current(): Promise<Map<string, UserRecord>> {
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    await this.loading;
    if (this.problem !== undefined) throw new UsersUnavailableError(this.problem);
    return this.users;
  }

  /** Re-reads the file if it changed; not ok while nobody can sign in. */
  async health(): Promise<UsersHealth> {
    try {
      await this.current();
      return { ok: true };
    } catch (err) {
      if (err instanceof UsersUnavailableError) return { ok: false, message: err.message };
      throw err;
    }
  }

  async lookup(name: string): Promise<UserRecord | undefined> {
    return (await this.current()).get(name);
  }

  async count(): Promise<number> {
    return (await this.current()).size;
  }

  /** The user when the password matches; unknown users cost the same scrypt work as wrong passwords. */
  async authenticate(name: string, password: string): Promise<UserRecord | undefined> {
    const user = await this.lookup(name);
    if (!user) {
      await verifyAgainstDecoy(password);
      return undefined;
    }
    return (await verifyPassword(password, user.passwordHash)) ? user : undefined;
  }
}
