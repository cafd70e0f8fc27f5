/**
 * `serve --config FILE`: YAML holding anything the flags say, and identity, which only it can say.
 * Pure: text -> the flags it stands for (put before the command line's, so flags win) and the LDAP
 * settings; every mistake is a ConfigError naming the key. Relative paths are relative to the file.
 */
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { LdapConfig } from '../identity/ldap.js';
import type { OidcConfig } from '../identity/oidc.js';

export class ConfigError extends Error {}

const Path = z.string().min(1);
const Ldap = z
  .object({
    url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/, 'must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]'),
    startTls: z.boolean().optional(),
    caFile: Path.optional(),
    userDn: z.string().includes('{user}', { message: 'must contain {user} where the name goes' }).optional(),
    bindDn: z.string().min(1).optional(),
    bindPasswordFile: Path.optional(),
    userSearchBase: z.string().min(1).optional(),
    userFilter: z.string().includes('{user}', { message: 'must contain {user} where the name goes' }).optional(),
    groupSearchBase: z.string().min(1).optional(),
    usernameAttribute: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an attribute name').optional(),
    disabledFilter: z.string().regex(/^\(.*\)$/, 'must be an LDAP filter in parentheses').optional(),
    timeoutSeconds: z.number().int().min(1).max(60).optional(),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (!l.userDn && !l.bindDn) ctx.addIssue({ code: 'custom', path: ['userDn'], message: 'give userDn (a DN template), or bindDn + bindPasswordFile + userSearchBase to search for people' });
    if (l.userDn && l.bindDn) ctx.addIssue({ code: 'custom', path: ['bindDn'], message: 'give userDn or bindDn, not both' });
    if (l.bindDn && !l.bindPasswordFile) ctx.addIssue({ code: 'custom', path: ['bindPasswordFile'], message: 'is needed with bindDn (the service account password, in a file of its own)' });
    if (l.bindDn && !l.userSearchBase) ctx.addIssue({ code: 'custom', path: ['userSearchBase'], message: 'is needed with bindDn (where people are searched for)' });
    if (l.startTls && l.url.startsWith('ldaps:')) ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'is for ldap:// URLs; ldaps:// is TLS already' });
  });

const Oidc = z
  .object({
    issuer: z.string().url(),
    clientId: z.string().min(1),
    usernameClaim: z.string().min(1).optional(),
    groupsClaim: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).optional(),
    clockSkewSeconds: z.number().int().min(0).max(300).optional(),
  })
  .strict();

const Seconds = z.number().int().nonnegative();
export const AgentConfig = z
  .object({
    runtime: z.enum(['local', 'kubernetes']).optional(),
    listen: z.string().optional(),
    dataDir: Path.optional(),
    idleTimeout: Seconds.optional(),
    publicUrl: z.string().optional(),
    kubeconfig: Path.optional(),
    namespace: z.string().optional(),
    desktopUids: z.string().optional(),
    unsafeSharedDesktops: z.boolean().optional(),
    streamer: Path.optional(),
    streamerCodecs: z.array(z.string()).optional(),
    stun: z.array(z.string()).optional(),
    turn: z.array(z.string()).optional(),
    turnSecretFile: Path.optional(),
    turnSecretName: z.string().optional(),
    turnTtl: Seconds.optional(),
    keyRotationDays: z.number().int().min(1).optional(),
    identity: z
      .object({ usersFile: Path.optional(), ldap: Ldap.optional(), oidc: Oidc.optional(), guest: z.object({ templates: z.array(z.string().min(1)).min(1, 'name at least one template guests may start') }).strict().optional() })
      .strict()
      .optional(),
    /** enrolled devices (kiosks): members of these groups sign in only on one */
    devices: z.object({ requiredForGroups: z.array(z.string().min(1)).min(1) }).strict().optional(),
  })
  .strict();
export type AgentConfig = z.infer<typeof AgentConfig>;

/** config key -> flag; `multiple` flags given on the command line replace the file's instead of adding to them */
const FLAGS: Array<[keyof AgentConfig, string]> = [
  ['runtime', '--runtime'], ['listen', '--listen'], ['dataDir', '--data-dir'], ['idleTimeout', '--idle-timeout'], ['publicUrl', '--public-url'],
  ['kubeconfig', '--kubeconfig'], ['namespace', '--namespace'], ['desktopUids', '--desktop-uids'], ['unsafeSharedDesktops', '--unsafe-shared-desktops'],
  ['streamer', '--streamer'], ['streamerCodecs', '--streamer-codecs'], ['stun', '--stun'], ['turn', '--turn'], ['turnSecretFile', '--turn-secret-file'],
  ['turnSecretName', '--turn-secret-name'], ['turnTtl', '--turn-ttl'], ['keyRotationDays', '--key-rotation-days'],
];
const PATHS = new Set<keyof AgentConfig>(['dataDir', 'kubeconfig', 'streamer', 'turnSecretFile']);

function describe(file: string, err: z.ZodError): string {
  const issue = err.issues[0]!;
  const key = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return `${file}: unknown key ${[key, issue.keys[0]].filter(Boolean).join('.')} (see docs/agent.md, "Configuration file")`;
  return `${file}: ${key || '(the file)'} ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** Pure: the file's text -> flags and LDAP settings, or ConfigError naming the key. */
export function parseConfig(text: string, file: string): { args: string[]; ldap?: LdapConfig; oidc?: OidcConfig; guest?: { templates: string[] }; devicesRequiredForGroups?: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = AgentConfig.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describe(file, parsed.error));
  const cfg = parsed.data;
  const base = resolve(file, '..');
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const args: string[] = [];
  for (const [key, flag] of FLAGS) {
    const v = cfg[key];
    if (v === undefined || v === false) continue;
    if (v === true) args.push(flag);
    else if (key === 'streamerCodecs') args.push(flag, (v as string[]).join(','));
    else if (Array.isArray(v)) for (const x of v) args.push(flag, String(x));
    else args.push(flag, PATHS.has(key) ? abs(String(v)) : String(v));
  }
  if (cfg.identity?.usersFile) args.push('--users', abs(cfg.identity.usersFile));
  const l = cfg.identity?.ldap;
  const ldap: LdapConfig | undefined = l && {
    ...l,
    ...(l.caFile ? { caFile: abs(l.caFile) } : {}),
    ...(l.bindPasswordFile ? { bindPasswordFile: abs(l.bindPasswordFile) } : {}),
  };
  const oidc = cfg.identity?.oidc;
  const guest = cfg.identity?.guest;
  const required = cfg.devices?.requiredForGroups;
  return { args, ...(ldap ? { ldap } : {}), ...(oidc ? { oidc } : {}), ...(guest ? { guest } : {}), ...(required ? { devicesRequiredForGroups: required } : {}) };
}

/** Pure: the file's flags, then the command line's; a repeatable flag on the command line replaces the file's. */
export function mergeArgs(fromFile: string[], cli: string[]): string[] {
  const repeatable = ['--stun', '--turn'];
  const out: string[] = [];
  for (let i = 0; i < fromFile.length; i++) {
    const a = fromFile[i]!;
    const takesValue = i + 1 < fromFile.length && !fromFile[i + 1]!.startsWith('--');
    if (repeatable.includes(a) && cli.includes(a)) {
      if (takesValue) i++;
      continue;
    }
    out.push(a);
    if (takesValue) out.push(fromFile[++i]!);
  }
  return [...out, ...cli];
}
