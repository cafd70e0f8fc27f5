/**
 * Who may sign in: the users file, re-read whenever it changes on disk so `porthole-agent users add`
 * takes effect without restarting the agent. A stat per lookup is cheaper and more reliable than
 * fs.watch (which misses atomic renames on some file systems).
 */
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { readUsersFile, type UserRecord } from './users-file.js';
import { verifyAgainstDecoy, verifyPassword } from './password-hash.js';

export class UserDirectory {
  private users = new Map<string, UserRecord>();
  private signature = '';
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
    try {
      this.users = await readUsersFile(this.path);
      this.signature = sig;
      this.logger?.info({ path: this.path, users: this.users.size }, 'users file loaded');
    } catch (err) {
      // Keep the last good list: a half-edited file must not lock everybody out.
      this.logger?.error({ err, path: this.path }, 'users file unreadable; keeping the previous users');
    }
  }

  private async current(): Promise<Map<string, UserRecord>> {
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    await this.loading;
    return this.users;
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
