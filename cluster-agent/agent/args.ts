/**
 * Command-line parsing, pure: argv -> a command, or a sentence saying what is wrong (the CLI
 * prints it with the usage text and exits 2).
 */
import { parseArgs } from 'node:util';
import type { UidRange } from '../runtime/local/desktop-accounts.js';

export const USAGE = `usage:
  porthole-agent serve --runtime local|kubernetes --listen HOST:PORT [--users FILE] [--data-dir DIR]
                       [--idle-timeout SECONDS] [--public-url URL] [--kubeconfig FILE] [--namespace NS]
                       [--desktop-uids FIRST-LAST] [--unsafe-shared-desktops] [--streamer DIR]
                       [--stun URL]... [--turn URL]... [--turn-secret-file FILE] [--turn-ttl SECONDS]
  porthole-agent users add NAME --file FILE --password-stdin [--groups a,b]
  porthole-agent manifests [--namespace NS] [--image IMAGE]

  --listen 127.0.0.1:0 picks a free port; the real one is printed as "listening on http://HOST:PORT".
  Defaults: --data-dir ./.porthole/agent, --users <data-dir>/users.yaml.
  Local desktops run sandboxed (bubblewrap); as root each person's under a uid of --desktop-uids
  (default 3000000-3099999). --unsafe-shared-desktops runs them without isolation, as the agent's user.
  WebRTC: --stun/--turn are given to viewers and streamers; TURN passwords are made per viewer from the
  shared secret in --turn-secret-file (coturn's use-auth-secret), valid --turn-ttl seconds (default 3600).`;

export type Command =
  | {
      kind: 'serve';
      runtime: 'local' | 'kubernetes';
      host: string;
      port: number;
      dataDir: string;
      usersFile: string;
      idleTimeout?: number;
      publicUrl?: string;
      /** kubernetes runtime: outside the cluster; default in-cluster ServiceAccount, else $KUBECONFIG/~/.kube/config */
      kubeconfig?: string;
      /** kubernetes runtime: where Sessions, Templates and pods live */
      namespace?: string;
      /** local runtime, agent as root: the uids people's desktops run as */
      desktopUids?: UidRange;
      /** local runtime: no sandbox, desktops run as the agent's user (said as a warning everywhere) */
      unsafeSharedDesktops?: boolean;
      /** local runtime: the built WebRTC streamer (default dist/streamer) */
      streamerDir?: string;
      stun?: string[];
      turn?: string[];
      turnSecretFile?: string;
      turnTtl?: number;
    }
  | { kind: 'users-add'; name: string; file: string; groups?: string[] }
  | { kind: 'manifests'; namespace?: string; image?: string }
  | { kind: 'help' };

export class UsageError extends Error {}

export const DEFAULT_DATA_DIR = './.porthole/agent';

/** HOST:PORT, [v6]:PORT; port 0..65535. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:8443), got "${value}"`);
  return { host: (m[1] ?? m[2])!, port };
}

function parsePublicUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--public-url must be an absolute http(s) URL, got "${value}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--public-url must start with http:// or https://, got "${value}"`);
  if (u.search || u.hash) throw new UsageError('--public-url must not have a query or fragment');
  return value.replace(/\/+$/, '');
}

function parseSeconds(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number of seconds (0 = never), got "${value}"`);
  return Number(value);
}

export function parseCommand(argv: string[]): Command {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
        throw new UsageError('missing command');
      case 'help':
      case '--help':
      case '-h':
        return { kind: 'help' };
      case 'serve':
        return parseServe(rest);
      case 'users':
        return parseUsers(rest);
      case 'manifests':
        return parseManifests(rest);
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // node:util parseArgs errors (unknown option, missing value) are already readable sentences.
    throw new UsageError((err as Error).message);
  }
}

function parseServe(args: string[]): Command {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      runtime: { type: 'string' },
      listen: { type: 'string' },
      users: { type: 'string' },
      'data-dir': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'public-url': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'desktop-uids': { type: 'string' },
      'unsafe-shared-desktops': { type: 'boolean' },
      streamer: { type: 'string' },
      stun: { type: 'string', multiple: true },
      turn: { type: 'string', multiple: true },
      'turn-secret-file': { type: 'string' },
      'turn-ttl': { type: 'string' },
    },
  });
  if (values.runtime !== 'local' && values.runtime !== 'kubernetes') {
    throw new UsageError(values.runtime === undefined ? '--runtime is required (local or kubernetes)' : `--runtime must be local or kubernetes, got "${values.runtime}"`);
  }
  if (values.listen === undefined) throw new UsageError('--listen HOST:PORT is required');
  const { host, port } = parseListen(values.listen);
  const dataDir = values['data-dir'] ?? DEFAULT_DATA_DIR;
  return {
    kind: 'serve',
    runtime: values.runtime,
    host,
    port,
    dataDir,
    usersFile: values.users ?? `${dataDir.replace(/\/+$/, '')}/users.yaml`,
    ...(values['idle-timeout'] !== undefined ? { idleTimeout: parseSeconds(values['idle-timeout'], '--idle-timeout') } : {}),
    ...(values['public-url'] !== undefined ? { publicUrl: parsePublicUrl(values['public-url']) } : {}),
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.namespace !== undefined ? { namespace: parseNamespace(values.namespace) } : {}),
    ...(values['desktop-uids'] !== undefined ? { desktopUids: parseDesktopUids(values['desktop-uids']) } : {}),
    ...(values['unsafe-shared-desktops'] ? { unsafeSharedDesktops: true } : {}),
    ...(values.streamer !== undefined ? { streamerDir: values.streamer } : {}),
    ...(values.stun ? { stun: values.stun.map((u) => parseIceUrl(u, '--stun', /^stuns?:/)) } : {}),
    ...(values.turn ? { turn: values.turn.map((u) => parseIceUrl(u, '--turn', /^turns?:/)) } : {}),
    ...(values['turn-secret-file'] !== undefined ? { turnSecretFile: values['turn-secret-file'] } : {}),
    ...(values['turn-ttl'] !== undefined ? { turnTtl: parseSeconds(values['turn-ttl'], '--turn-ttl') } : {}),
  };
}

/** Pure: "3000000-3099999" -> range, or a sentence saying what is wrong. */
export function parseUidRange(text: string): UidRange | string {
  const m = /^(\d{1,10})-(\d{1,10})$/.exec(text.trim());
  if (!m) return `the desktop uid range must look like FIRST-LAST (e.g. 3000000-3099999), got "${text}"`;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first < 1000) return `the desktop uid range must start at 1000 or above (uids below are system accounts), got ${first}`;
  if (last < first) return `the desktop uid range ends before it starts: ${text}`;
  if (last > 4_294_967_294) return `the desktop uid range goes past the largest uid (4294967294): ${text}`;
  return { first, last };
}

function parseIceUrl(value: string, flag: string, scheme: RegExp): string {
  if (!scheme.test(value) || !/^[a-z]+:[^\s/]+(\?transport=(udp|tcp))?$/.test(value)) throw new UsageError(`${flag} must look like ${flag === '--stun' ? 'stun:host:3478' : 'turn:host:3478?transport=udp'}, got "${value}"`);
  return value;
}

function parseDesktopUids(value: string): UidRange {
  const range = parseUidRange(value);
  if (typeof range === 'string') throw new UsageError(`--desktop-uids: ${range}`);
  return range;
}

function parseNamespace(value: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new UsageError(`--namespace must be a Kubernetes namespace name (lower-case letters, digits, "-"), got "${value}"`);
  return value;
}

function parseManifests(args: string[]): Command {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: { namespace: { type: 'string' }, image: { type: 'string' } } });
  if (values.image !== undefined && !/^[^\s]+$/.test(values.image)) throw new UsageError(`--image must be an image reference without spaces, got "${values.image}"`);
  return {
    kind: 'manifests',
    ...(values.namespace !== undefined ? { namespace: parseNamespace(values.namespace) } : {}),
    ...(values.image !== undefined ? { image: values.image } : {}),
  };
}

function parseUsers(args: string[]): Command {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      file: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      groups: { type: 'string' },
    },
  });
  const [sub, name, ...extra] = positionals;
  if (sub !== 'add') throw new UsageError(sub === undefined ? 'missing "users" subcommand (add)' : `unknown users subcommand "${sub}"`);
  if (!name) throw new UsageError('users add needs a NAME');
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!values.file) throw new UsageError('users add needs --file FILE');
  // Passwords on the command line end up in shell history and `ps`; stdin only.
  if (!values['password-stdin']) throw new UsageError('users add reads the password from stdin: pass --password-stdin');
  const groups = values.groups?.split(',').map((g) => g.trim()).filter(Boolean);
  return { kind: 'users-add', name, file: values.file, ...(groups !== undefined ? { groups } : {}) };
}
