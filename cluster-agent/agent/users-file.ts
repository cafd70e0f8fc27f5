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
import { parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { UserName } from '../contract/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { hashPassword } from './password-hash.js';

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

const UsersFileSchema = z.object({
  users: z.record(UserName, UserEntry).nullish(),
});

export class UsersFileError extends Error {}

/** Text of a users file -> records. Throws UsersFileError naming the file and the problem. */
export function parseUsersFile(text: string, path: string): Map<string, UserRecord> {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new UsersFileError(`${path} is not valid YAML: ${doc.errors[0]!.message}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = UsersFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsersFileError(`${path}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const out = new Map<string, UserRecord>();
  for (const [name, entry] of Object.entries(parsed.data.users ?? {})) {
    out.set(name, { name, passwordHash: entry.passwordHash, groups: entry.groups });
  }
  return out;
}

export function formatUsersFile(users: Iterable<UserRecord>): string {
  const sorted = [...users].sort((a, b) => a.name.localeCompare(b.name));
  const obj = { users: Object.fromEntries(sorted.map((u) => [u.name, { passwordHash: u.passwordHash, groups: u.groups }])) };
  return '# Porthole agent users. Edit with: porthole-agent users add NAME --file FILE --password-stdin\n' + stringify(obj);
}

/** Missing file = no users yet (a fresh install); any other read error is real. */
export async function readUsersFile(path: string): Promise<Map<string, UserRecord>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
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
  const users = await readUsersFile(path);
  const existing = users.get(name);
  users.set(name, { name, passwordHash: await hashPassword(password), groups: groups ?? existing?.groups ?? [] });
  await writeFileAtomic(path, formatUsersFile(users.values()), 0o600);
  return { created: !existing };
}
