/**
 * The launcher policy: a machine-wide JSON file (`/etc/porthole/policy.json`, or the file
 * PORTHOLE_POLICY names) in which a fleet admin fixes settings for every person on the device, as
 * Chrome's managed policies do. Validated strictly, with errors that name the key; a file that does
 * not parse stops the launcher rather than leaving a kiosk unmanaged. `effectivePolicy` is pure.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CLIPBOARD_DIRECTIONS, SIGN_IN_METHODS, type EffectivePolicy } from '../../bridge/contract.js';
import { parseAgentUrl } from './agent-url.js';

export const DEFAULT_POLICY_FILE = '/etc/porthole/policy.json';

const PolicyFile = z
  .object({
    agentUrl: z.string().min(1).max(2048).optional(),
    kiosk: z
      .object({
        enabled: z.boolean().optional(),
        autoStartTemplate: z.string().min(1).max(200).optional(),
        idleSignOutSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
      })
      .strict()
      .optional(),
    signIn: z.object({ methods: z.array(z.enum(SIGN_IN_METHODS)).min(1) }).strict().optional(),
    streaming: z
      .object({
        protocols: z.array(z.enum(['webrtc', 'vnc'])).min(1).optional(),
        hardwareDecode: z.boolean().optional(),
      })
      .strict()
      .optional(),
    clipboard: z.enum(CLIPBOARD_DIRECTIONS).optional(),
    admin: z.object({ enabled: z.boolean() }).strict().optional(),
  })
  .strict();
export type PolicyFile = z.infer<typeof PolicyFile>;

export class PolicyError extends Error {
  override name = 'PolicyError';
}

function describe(file: string, err: z.ZodError): string {
  const issue = err.issues[0]!;
  const key = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') return `policy ${file}: unknown key ${[key, issue.keys[0]].filter(Boolean).join('.')} (see docs/launcher.md, "Policy")`;
  return `policy ${file}: ${key || '(the file)'} ${issue.message.replace(/^Invalid (input|option): /, '')}`;
}

/** Pure: the file's text -> its settings, or PolicyError naming the key. */
export function parsePolicy(text: string, file: string): PolicyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`policy ${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = PolicyFile.safeParse(raw);
  if (!parsed.success) throw new PolicyError(describe(file, parsed.error));
  if (parsed.data.agentUrl !== undefined) {
    try {
      parseAgentUrl(parsed.data.agentUrl);
    } catch (err) {
      throw new PolicyError(`policy ${file}: agentUrl ${(err as Error).message}`);
    }
  }
  if (parsed.data.kiosk?.autoStartTemplate && !parsed.data.kiosk.enabled) {
    throw new PolicyError(`policy ${file}: kiosk.autoStartTemplate is for kiosks; set kiosk.enabled to true, or remove it`);
  }
  return parsed.data;
}

/** Pure: every setting with its value and source; what the policy leaves open takes the default. */
export function effectivePolicy(policy: PolicyFile, file: string | null): EffectivePolicy {
  const from = <T>(value: T | undefined, fallback: T) => (value === undefined ? { value: fallback, source: 'default' as const } : { value, source: 'policy' as const });
  const kiosk = policy.kiosk?.enabled ?? false;
  return {
    file,
    agentUrl: from(policy.agentUrl === undefined ? undefined : parseAgentUrl(policy.agentUrl).display, null),
    kiosk: from(policy.kiosk?.enabled, false),
    autoStartTemplate: from(policy.kiosk?.autoStartTemplate, null),
    idleSignOutSeconds: from(policy.kiosk?.idleSignOutSeconds, kiosk ? 600 : null),
    signInMethods: from(policy.signIn?.methods, [...SIGN_IN_METHODS]),
    protocols: from(policy.streaming?.protocols, ['webrtc', 'vnc'] as Array<'webrtc' | 'vnc'>),
    hardwareDecode: from(policy.streaming?.hardwareDecode, null),
    clipboard: from(policy.clipboard, 'both'),
    admin: from(policy.admin?.enabled, false),
  };
}

/**
 * Reads the device's policy: the file PORTHOLE_POLICY names (which must exist), else
 * /etc/porthole/policy.json if there is one, else none (every setting its default).
 */
export function loadPolicySync(env: Record<string, string | undefined> = process.env): EffectivePolicy {
  const named = env.PORTHOLE_POLICY;
  const file = named || DEFAULT_POLICY_FILE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!named && code === 'ENOENT') return effectivePolicy({}, null);
    throw new PolicyError(`policy ${file}: cannot be read (${code ?? (err as Error).message})${named ? ' (named by PORTHOLE_POLICY)' : ''}`);
  }
  return effectivePolicy(parsePolicy(text, file), file);
}

/** The same, for callers that await (one small file, read once at start: sync is fine). */
export const loadPolicy = async (env: Record<string, string | undefined> = process.env): Promise<EffectivePolicy> => loadPolicySync(env);

/** The table `--show-policy` prints: one line per setting, its value and where it came from. */
export function policyTable(p: EffectivePolicy): string {
  const rows: Array<[string, { value: unknown; source: string }]> = [
    ['agentUrl', p.agentUrl],
    ['kiosk.enabled', p.kiosk],
    ['kiosk.autoStartTemplate', p.autoStartTemplate],
    ['kiosk.idleSignOutSeconds', p.idleSignOutSeconds],
    ['signIn.methods', p.signInMethods],
    ['streaming.protocols', p.protocols],
    ['streaming.hardwareDecode', p.hardwareDecode],
    ['clipboard', p.clipboard],
    ['admin.enabled', p.admin],
  ];
  const shown = (v: unknown) => (v === null ? '(not set)' : Array.isArray(v) ? v.join(',') : String(v));
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([key, s]) => `${key.padEnd(width)}  ${shown(s.value).padEnd(28)}  ${s.source === 'policy' ? 'managed (policy)' : s.source === 'flag' ? 'on for this run (command line)' : 'default'}`);
  return [`policy file: ${p.file ?? `none (${DEFAULT_POLICY_FILE} does not exist)`}`, ...lines].join('\n');
}
