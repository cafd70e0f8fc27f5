/**
 * Which OS uid each person's desktops run as, when the agent runs as root. The owner of a person's home
 * directory IS their uid: there is no second table to lose or to disagree with the disk. A new person
 * gets the lowest uid of the range that no home and no account of this machine uses. An agent that is
 * not root runs every desktop as itself (the sandbox still separates them).
 */
import { chmodSync, chownSync, lchownSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from './dirs.js';

export interface UidRange {
  first: number;
  last: number;
}

/** Above the ranges people's accounts (1000+), /etc/subuid blocks (100000+) and systemd's dynamic users use. */
export const DEFAULT_DESKTOP_UIDS: UidRange = { first: 3_000_000, last: 3_099_999 };

/** Pure: the lowest uid in the range that is not taken, or undefined when the range is full. */
export function lowestFreeUid(range: UidRange, taken: ReadonlySet<number>): number | undefined {
  for (let uid = range.first; uid <= range.last; uid++) if (!taken.has(uid)) return uid;
  return undefined;
}

/** Pure: the uids and gids named in /etc/passwd or /etc/group text. */
export function idsInAccountFile(text: string): Set<number> {
  const ids = new Set<number>();
  for (const line of text.split('\n')) {
    const id = Number(line.split(':')[2]);
    if (line && Number.isInteger(id)) ids.add(id);
  }
  return ids;
}

export interface DesktopAccount {
  user: string;
  uid: number;
  gid: number;
  /** the home directory on the host */
  home: string;
}

/** chown a directory and everything in it, not following symlinks (a link inside must not redirect it). */
function chownTree(dir: string, uid: number, gid: number): void {
  lchownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chownTree(path, uid, gid);
    else lchownSync(path, uid, gid);
  }
}

function systemIds(): Set<number> {
  const ids = new Set<number>();
  for (const file of ['/etc/passwd', '/etc/group']) {
    try {
      for (const id of idsInAccountFile(readFileSync(file, 'utf8'))) ids.add(id);
    } catch {
      // no such file: nothing taken by it
    }
  }
  return ids;
}

export class DesktopAccounts {
  /** person -> uid, read from the owners of the homes */
  private readonly uids = new Map<string, number>();

  /** `range` undefined: desktops run as the agent's own uid (the agent is not root). */
  constructor(
    private readonly homesDir: string,
    private readonly range: UidRange | undefined,
  ) {}

  get dropsPrivileges(): boolean {
    return this.range !== undefined;
  }

  /** Learns the existing persons' uids from their homes (call once, at init). */
  load(): void {
    if (!this.range) return;
    for (const name of readdirSync(this.homesDir)) {
      try {
        const st = statSync(join(this.homesDir, name));
        if (st.isDirectory() && st.uid !== 0) this.uids.set(name, st.uid);
      } catch {
        // vanished meanwhile
      }
    }
  }

  /**
   * The person's account, creating their home (owned by a new uid of the range) on first use.
   * Synchronous, so two concurrent first starts of one person cannot pick two uids.
   */
  accountFor(user: string): DesktopAccount {
    const home = join(this.homesDir, user);
    if (!this.range) {
      ensureDir(home);
      chmodSync(home, 0o700);
      const st = statSync(home);
      return { user, uid: st.uid, gid: st.gid, home };
    }
    let uid = this.uids.get(user);
    if (uid === undefined) {
      const taken = new Set([...this.uids.values(), ...systemIds()]);
      uid = lowestFreeUid(this.range, taken);
      if (uid === undefined) throw new Error(`every uid of the desktop range ${this.range.first}-${this.range.last} is in use: widen --desktop-uids`);
      ensureDir(home);
      chownSync(home, uid, uid);
      this.uids.set(user, uid);
    }
    ensureDir(home);
    chmodSync(home, 0o700);
    const st = statSync(home);
    // A home from before desktops had uids of their own (or restored as root) is given back to its person.
    if (st.uid !== uid) chownTree(home, uid, uid);
    return { user, uid, gid: uid, home };
  }
}
