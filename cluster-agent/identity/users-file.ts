/**
 * The users file: YAML, one entry per user with a salted scrypt hash and groups.
 *
 *   users:
 *     alice:
 *       passwordHash: $scrypt$ln=15,r=8,p=1$...$...
 *       groups: [dev]
 *
 * Parsing is pure (text -> records, or a sentence saying what is wrong); reading and the atomic
 * 0600 write are thin I/O around it.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, stringify, type Node as YamlNode, type YAMLError } from 'yaml';
import { z } from 'zod';
import { UserName } from '../contract/index.js';
import { writeFileAtomic } from '../state/atomic-write.js';
import { hashPassword, parsePasswordHash } from './password-hash.js';

export interface UserRecord {
  name: string;
  passwordHash: string;
  groups: string[];
}

const GroupName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'group names are letters, digits, "_", "." or "-"');

const UserEntry = z.object({
  passwordHash: z.string().min(1),
  groups: z.array(GroupName).default([]),
});

/** A users-file entry that was left out, and why: named by line and user, never by its contents. */
export interface SkippedEntry {
  line: number;
  /** the user name, when it is one that can be shown (a malformed key is named by its line only) */
  user?: string;
  problem: string;
}

export interface UsersFileContents {
  users: Map<string, UserRecord>;
  /** entries that could not be used; every other user still signs in */
  skipped: SkippedEntry[];
}

/**
 * The file as a whole cannot be read. The message names the file and the line, never quotes it: the
 * file holds password hashes, and the yaml library's own messages include excerpts of the source.
 */
export class UsersFileError extends Error {}

/** Short descriptions of the yaml library's error codes (its messages may quote the file). */
const YAML_PROBLEMS: Partial<Record<YAMLError['code'], string>> = {
  BAD_INDENT: 'the indentation is wrong',
  TAB_AS_INDENT: 'a tab is used for indentation; use spaces',
  BLOCK_AS_IMPLICIT_KEY: 'a value is where a key should be',
  MULTILINE_IMPLICIT_KEY: 'a key runs over more than one line',
  MISSING_CHAR: 'a ":", "," or closing bracket is missing',
  UNEXPECTED_TOKEN: 'something unexpected is there',
  BAD_SCALAR_START: 'a value starts with a character that needs quotes',
  BAD_DQ_ESCAPE: 'a double-quoted value has a bad escape sequence',
  MULTIPLE_DOCS: 'there is more than one YAML document',
  BAD_ALIAS: 'an alias is not valid',
  DUPLICATE_KEY: 'a key appears twice',
};

/** A name safe to repeat in a log: what a user name could be, not arbitrary file content. */
const SHOWABLE_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** Text of a users file -> the usable users and the entries left out. Throws UsersFileError when nothing can be read. */
export function parseUsersFile(text: string, path: string): UsersFileContents {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const lineOf = (node: YamlNode | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const firstError = doc.errors[0];
  if (firstError) {
    const { line, col } = lines.linePos(firstError.pos[0]);
    const what = YAML_PROBLEMS[firstError.code] ?? `YAML error ${firstError.code}`;
    throw new UsersFileError(`${path} is not valid YAML at line ${line}, column ${col} (${what})`);
  }
  const out: UsersFileContents = { users: new Map(), skipped: [] };
  const top = doc.contents;
  if (top === null || (isScalar(top) && (top.value === null || top.value === ''))) return out; // empty file: no users yet
  if (!isMap(top)) throw new UsersFileError(`${path}, line ${lineOf(top)}: the file must be a mapping with a "users:" key`);
  const usersNode = top.get('users', true) as YamlNode | undefined;
  if (usersNode === undefined || (isScalar(usersNode) && usersNode.value === null)) return out;
  if (!isMap(usersNode)) throw new UsersFileError(`${path}, line ${lineOf(usersNode)}: "users" must be a mapping of user names to { passwordHash, groups }`);

  const seen = new Map<string, number>();
  const entries: { line: number; name: string; record: UserRecord }[] = [];
  for (const pair of usersNode.items) {
    const keyNode = pair.key as YamlNode | null;
    const line = lineOf(keyNode);
    const rawName = isScalar(keyNode) ? keyNode.value : undefined;
    const name = typeof rawName === 'string' ? rawName : undefined;
    const shown = name !== undefined && SHOWABLE_NAME.test(name) ? { user: name } : {};
    const skip = (problem: string) => out.skipped.push({ line, ...shown, problem });
    const validName = UserName.safeParse(name);
    if (!validName.success) {
      skip(`the user name is not valid: ${validName.error.issues[0]!.message}`);
      continue;
    }
    let value: unknown;
    try {
      value = (pair.value as YamlNode | null)?.toJS(doc) ?? null;
    } catch {
      skip('its value cannot be read (too many aliases?)');
      continue;
    }
    const entry = UserEntry.safeParse(value);
    if (!entry.success) {
      const issue = entry.error.issues[0]!;
      skip(`${issue.path.join('.') || 'the entry'}: ${issue.message}`);
      continue;
    }
    if (!parsePasswordHash(entry.data.passwordHash)) {
      skip('passwordHash is not a scrypt hash as "porthole-agent users add" makes them; set the password again with users add');
      continue;
    }
    seen.set(validName.data, (seen.get(validName.data) ?? 0) + 1);
    entries.push({ line, name: validName.data, record: { name: validName.data, passwordHash: entry.data.passwordHash, groups: entry.data.groups } });
  }
  for (const e of entries) {
    // Which of two entries for one name is meant cannot be known: neither is used.
    if (seen.get(e.name)! > 1) out.skipped.push({ line: e.line, user: e.name, problem: `"${e.name}" appears more than once; remove all but one` });
    else out.users.set(e.name, e.record);
  }
  out.skipped.sort((a, b) => a.line - b.line);
  return out;
}

/** One line per skipped entry, for a log line or an error message. */
export function describeSkipped(path: string, skipped: SkippedEntry[]): string {
  return skipped.map((s) => `${path} line ${s.line}${s.user ? ` (${s.user})` : ''}: ${s.problem}`).join('; ');
}

export function formatUsersFile(users: Iterable<UserRecord>): string {
  const sorted = [...users].sort((a, b) => a.name.localeCompare(b.name));
  const obj = { users: Object.fromEntries(sorted.map((u) => [u.name, { passwordHash: u.passwordHash, groups: u.groups }])) };
  return '# Porthole agent users. Edit with: porthole-agent users add NAME --file FILE --password-stdin\n' + stringify(obj);
}

/** Missing file = no users yet (a fresh install); any other read error is real. */
export async function readUsersFile(path: string): Promise<UsersFileContents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { users: new Map(), skipped: [] };
    throw new UsersFileError(`${path} cannot be read (${code ?? (err as Error).message})`);
  }
  return parseUsersFile(text, path);
}

export function validateNewUser(name: string, groups: string[]): string | undefined {
  const n = UserName.safeParse(name);
  if (!n.success) return `"${name}" is not a valid user name: ${n.error.issues[0]!.message}`;
  for (const g of groups) {
    const r = GroupName.safeParse(g);
    if (!r.success) return `"${g}" is not a valid group name: ${r.error.issues[0]!.message}`;
  }
  return undefined;
}

/**
 * Add or update one user, keeping everyone else. When groups is undefined an existing user keeps
 * theirs (changing a password should not silently drop group memberships).
 */
export async function upsertUser(path: string, name: string, password: string, groups: string[] | undefined): Promise<{ created: boolean }> {
  const problem = validateNewUser(name, groups ?? []);
  if (problem) throw new UsersFileError(problem);
  const { users, skipped } = await readUsersFile(path);
  // Rewriting the file would drop the entries it cannot read: refuse, and say which they are.
  if (skipped.length > 0) throw new UsersFileError(`${describeSkipped(path, skipped)}. Fix or remove those entries first, so that rewriting the file loses nothing`);
  const existing = users.get(name);
  users.set(name, { name, passwordHash: await hashPassword(password), groups: groups ?? existing?.groups ?? [] });
  await writeFileAtomic(path, formatUsersFile(users.values()), 0o600);
  return { created: !existing };
}
