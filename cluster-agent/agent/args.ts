/**
 * Command-line parsing, pure: argv -> a command, or a sentence saying what is wrong (the CLI
 * prints it with the usage text and exits 2).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { TurnOptions } from '../kubernetes/turn-manifests.js';
import type { LdapConfig } from '../identity/ldap.js';
import type { OidcConfig } from '../identity/oidc.js';
import type { AdminCommand } from '../admin/commands.js';
import type { UidRange } from '../runtime/local/desktop-accounts.js';

export const USAGE = `usage:
  porthole-agent serve [--config FILE] --runtime local|kubernetes --listen HOST:PORT [--users FILE] [--data-dir DIR]
                       [--idle-timeout SECONDS] [--public-url URL] [--kubeconfig FILE] [--namespace NS]
                       [--desktop-uids FIRST-LAST] [--unsafe-shared-desktops] [--streamer DIR] [--streamer-codecs LIST]
                       [--stun URL]... [--turn URL]... [--turn-secret-file FILE | --turn-secret-name SECRET]
                       [--turn-ttl SECONDS] [--key-rotation-days DAYS]
  porthole-agent keys rotate|list [--data-dir DIR | --runtime kubernetes [--kubeconfig FILE] [--namespace NS]]
  porthole-agent devices enroll --name NAME | list | revoke ID|NAME  [--data-dir DIR | --runtime kubernetes ...]
  porthole-agent doctor|install|verify|uninstall [--kubeconfig FILE] [--context C] [--namespace NS] [--image IMAGE]
                           [--dry-run] [--wait SECONDS] [--delete-homes] [--delete-crds]
  porthole-agent users add NAME --file FILE --password-stdin [--groups a,b]
  porthole-agent manifests [--namespace NS] [--image IMAGE] [--replicas N]
                           [--turn-external-host HOST --pod-cidr CIDR... [--turn-service-type LoadBalancer|NodePort]
                            [--turn-port PORT] [--turn-image IMAGE] [--turn-relay-ports MIN-MAX]]

  --config FILE: YAML with any of these settings (camelCase: dataDir, idleTimeout, ...) and identity
  (usersFile, ldap: url, userDn | bindDn + bindPasswordFile + userSearchBase, groupSearchBase, ...);
  flags win (docs/agent.md, "Configuration file").
  --listen 127.0.0.1:0 picks a free port; the real one is printed as "listening on http://HOST:PORT".
  Defaults: --data-dir ./.porthole/agent, --users <data-dir>/users.yaml.
  Local desktops run sandboxed (bubblewrap); as root each person's under a uid of --desktop-uids
  (default 3000000-3099999). --unsafe-shared-desktops runs them without isolation, as the agent's user.
  WebRTC: --stun/--turn are given to viewers and streamers; TURN passwords are made per viewer from the
  shared secret in --turn-secret-file (coturn's use-auth-secret), valid --turn-ttl seconds (default 3600).
  --streamer-codecs (local runtime): what desktops' streamers may encode, from h264,vp9,vp8,av1 (default
  h264,vp9,vp8; AV1 in software is slow on small machines, docs/streaming.md).
  --turn-secret-name (kubernetes runtime): the shared secret is key "secret" of that Secret in the
  namespace, created with 32 random bytes on the first start when it does not exist.
  Token-signing keys: made on first start; \`keys rotate\` makes a new one that signs from then on while
  the old ones verify for an hour more (tokens live 15 minutes); running agents pick it up within 30 s.
  --key-rotation-days makes the agent rotate by itself. \`keys list\` prints the kids, newest first.
  doctor checks the cluster and every permission the install and the agent need; install (or upgrade)
  applies what \`manifests\` prints with server-side apply and waits for the agent (--wait, default 180 s);
  --dry-run prints the plan (create / update / unchanged). verify asks the agent's /readyz through its
  Service (the API server's service proxy) and starts and removes a smoke-test session (--template T,
  default the first; --wait). uninstall keeps home volumes and the CRDs unless --delete-homes / --delete-crds.
  Devices (kiosks): \`devices enroll --name N\` prints a one-time code, valid a day, that the device
  redeems on its first start; its sign-ins then prove its key. \`devices revoke\` ends them at once.
  manifests --turn-external-host HOST also installs coturn, reached by clients at HOST (a LoadBalancer
  Service, port 3478, or --turn-service-type NodePort, port 30478; --turn-port changes it), relaying only
  to addresses in --pod-cidr (the cluster's pod network; repeat it for dual stack).`;

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
      /** local runtime: the codecs the streamers may encode */
      streamerCodecs?: string[];
      stun?: string[];
      turn?: string[];
      turnSecretFile?: string;
      /** kubernetes runtime: the Secret holding the TURN shared secret (created when missing) */
      turnSecretName?: string;
      turnTtl?: number;
      /** rotate the token-signing key by itself when it is this old */
      keyRotationDays?: number;
      /** from --config: sign-in against a company directory */
      ldap?: LdapConfig;
      /** from --config: sign-in with an OpenID Connect issuer */
      oidc?: OidcConfig;
      /** from --config: guest sign-in (kiosks) with only these templates */
      guest?: { templates: string[] };
      /** from --config: members of these groups sign in only on an enrolled device */
      devicesRequiredForGroups?: string[];
    }
  | { kind: 'keys'; action: 'rotate' | 'list'; runtime: 'local' | 'kubernetes'; dataDir: string; kubeconfig?: string; namespace?: string }
  | { kind: 'devices'; action: 'enroll' | 'list' | 'revoke'; name?: string; target?: string; runtime: 'local' | 'kubernetes'; dataDir: string; kubeconfig?: string; namespace?: string }
  | { kind: 'users-add'; name: string; file: string; groups?: string[] }
  | ({ kind: 'admin' } & AdminCommand)
  | { kind: 'manifests'; namespace?: string; image?: string; replicas?: number; turn?: TurnOptions }
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
      case 'keys':
        return parseKeys(rest);
      case 'devices':
        return parseDevices(rest);
      case 'doctor':
      case 'install':
      case 'verify':
      case 'uninstall':
        return parseAdmin(cmd, rest);
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
      'streamer-codecs': { type: 'string' },
      stun: { type: 'string', multiple: true },
      turn: { type: 'string', multiple: true },
      'turn-secret-file': { type: 'string' },
      'turn-secret-name': { type: 'string' },
      'turn-ttl': { type: 'string' },
      'key-rotation-days': { type: 'string' },
    },
  });
  if (values.runtime !== 'local' && values.runtime !== 'kubernetes') {
    throw new UsageError(values.runtime === undefined ? '--runtime is required (local or kubernetes)' : `--runtime must be local or kubernetes, got "${values.runtime}"`);
  }
  if (values.listen === undefined) throw new UsageError('--listen HOST:PORT is required');
  const { host, port } = parseListen(values.listen);
  if (values['turn-secret-name'] !== undefined) {
    if (values['turn-secret-file'] !== undefined) throw new UsageError('--turn-secret-file and --turn-secret-name are two sources of one secret: give one');
    if (values.runtime !== 'kubernetes') throw new UsageError('--turn-secret-name is a Secret in the cluster: it needs --runtime kubernetes (use --turn-secret-file otherwise)');
    parseObjectName(values['turn-secret-name'], '--turn-secret-name');
  }
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
    ...(values['streamer-codecs'] !== undefined ? { streamerCodecs: parseCodecs(values['streamer-codecs'], values.runtime) } : {}),
    ...(values.stun ? { stun: values.stun.map((u) => parseIceUrl(u, '--stun', /^stuns?:/)) } : {}),
    ...(values.turn ? { turn: values.turn.map((u) => parseIceUrl(u, '--turn', /^turns?:/)) } : {}),
    ...(values['turn-secret-file'] !== undefined ? { turnSecretFile: values['turn-secret-file'] } : {}),
    ...(values['turn-secret-name'] !== undefined ? { turnSecretName: values['turn-secret-name'] } : {}),
    ...(values['turn-ttl'] !== undefined ? { turnTtl: parseSeconds(values['turn-ttl'], '--turn-ttl') } : {}),
    ...(values['key-rotation-days'] !== undefined ? { keyRotationDays: parseDays(values['key-rotation-days']) } : {}),
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

const STREAMER_CODECS = ['h264', 'vp9', 'vp8', 'av1'];

function parseCodecs(value: string, runtime: string | undefined): string[] {
  if (runtime !== 'local') throw new UsageError('--streamer-codecs is for the local runtime (in a cluster the streamer container\'s image decides)');
  const list = value.split(',').map((c) => c.trim().toLowerCase()).filter(Boolean);
  const bad = list.find((c) => !STREAMER_CODECS.includes(c));
  if (bad !== undefined || !list.length) throw new UsageError(`--streamer-codecs takes a comma-separated list of ${STREAMER_CODECS.join(', ')}, got "${value}"`);
  return [...new Set(list)];
}

function parseObjectName(value: string, flag: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(value)) throw new UsageError(`${flag} must be a Kubernetes object name (lower-case letters, digits, "-", "."), got "${value}"`);
  return value;
}

function parseImage(value: string, flag: string): string {
  if (!/^[^\s]+$/.test(value)) throw new UsageError(`${flag} must be an image reference without spaces, got "${value}"`);
  return value;
}

function parsePort(value: string, flag: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`${flag} must be a port number (1-65535), got "${value}"`);
  return port;
}

/** A DNS name, an IPv4 or an IPv6 address (no brackets, no port): what goes into turn:HOST:PORT. */
function parseHost(value: string, flag: string): string {
  const dns = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  if (isIP(value) === 0 && !dns.test(value)) throw new UsageError(`${flag} must be a host name or an IP address (no port, no scheme), got "${value}"`);
  return value;
}

/** ADDRESS/PREFIX. Pure; turn-manifests.ts turns it into coturn's ip-ip range and refuses one with host bits set. */
export function parseCidr(value: string, flag = '--pod-cidr'): string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(value);
  const family = m ? isIP(m[1]!) : 0;
  if (!m || family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) throw new UsageError(`${flag} must be a network as ADDRESS/PREFIX (e.g. 10.244.0.0/16 or fd00:10:244::/56), got "${value}"`);
  return value;
}

function parseManifests(args: string[]): Command {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      namespace: { type: 'string' },
      image: { type: 'string' },
      replicas: { type: 'string' },
      'turn-external-host': { type: 'string' },
      'pod-cidr': { type: 'string', multiple: true },
      'turn-service-type': { type: 'string' },
      'turn-port': { type: 'string' },
      'turn-image': { type: 'string' },
      'turn-relay-ports': { type: 'string' },
    },
  });
  const turnFlags = ['pod-cidr', 'turn-service-type', 'turn-port', 'turn-image', 'turn-relay-ports'] as const;
  const host = values['turn-external-host'];
  if (host === undefined) {
    const stray = turnFlags.find((f) => values[f] !== undefined);
    if (stray) throw new UsageError(`--${stray} configures the TURN relay, which needs --turn-external-host HOST (the address clients reach it at)`);
  } else if (!values['pod-cidr']?.length) {
    throw new UsageError('--turn-external-host needs --pod-cidr CIDR (the pod network: the only addresses the relay may send to; e.g. `kubectl get nodes -o jsonpath="{.items[*].spec.podCIDR}"` shows the nodes\' parts of it)');
  }
  const type = values['turn-service-type'];
  if (type !== undefined && type !== 'LoadBalancer' && type !== 'NodePort') throw new UsageError(`--turn-service-type must be LoadBalancer or NodePort, got "${type}"`);
  const port = values['turn-port'] !== undefined ? parsePort(values['turn-port'], '--turn-port') : undefined;
  if (port !== undefined && type === 'NodePort' && (port < 30000 || port > 32767)) throw new UsageError(`--turn-port with NodePort is the node port, in 30000-32767 (the API server's default range), got ${port}`);
  let relayPorts: { min: number; max: number } | undefined;
  if (values['turn-relay-ports'] !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(values['turn-relay-ports']);
    const [min, max] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(min >= 1024 && max <= 65535 && min < max)) throw new UsageError(`--turn-relay-ports must be MIN-MAX within 1024-65535 (e.g. 49152-65535), got "${values['turn-relay-ports']}"`);
    relayPorts = { min, max };
  }
  const turn: TurnOptions | undefined =
    host === undefined
      ? undefined
      : {
          externalHost: parseHost(host, '--turn-external-host'),
          podCidrs: values['pod-cidr']!.map((c) => parseCidr(c)),
          ...(type !== undefined ? { serviceType: type } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(values['turn-image'] !== undefined ? { image: parseImage(values['turn-image'], '--turn-image') } : {}),
          ...(relayPorts ? { relayPorts } : {}),
        };
  const replicas = values.replicas === undefined ? undefined : Number(values.replicas);
  if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 20)) throw new UsageError(`--replicas must be a whole number from 1 to 20, got "${values.replicas}"`);
  return {
    kind: 'manifests',
    ...(values.namespace !== undefined ? { namespace: parseNamespace(values.namespace) } : {}),
    ...(values.image !== undefined ? { image: parseImage(values.image, '--image') } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(turn ? { turn } : {}),
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

function parseDays(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--key-rotation-days must be a whole number of days, at least 1, got "${value}"`);
  return Number(value);
}

function parseKeys(args: string[]): Command {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, runtime: { type: 'string' }, kubeconfig: { type: 'string' }, namespace: { type: 'string' } },
  });
  const [action, ...extra] = positionals;
  if (action !== 'rotate' && action !== 'list') throw new UsageError(action === undefined ? 'missing "keys" subcommand (rotate or list)' : `unknown keys subcommand "${action}" (rotate or list)`);
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const runtime = storeRuntime(values);
  return {
    kind: 'keys',
    action,
    runtime,
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.namespace !== undefined ? { namespace: parseNamespace(values.namespace) } : {}),
  };
}

function parseDevices(args: string[]): Command {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { name: { type: 'string' }, 'data-dir': { type: 'string' }, runtime: { type: 'string' }, kubeconfig: { type: 'string' }, namespace: { type: 'string' } },
  });
  const [action, target, ...extra] = positionals;
  if (action !== 'enroll' && action !== 'list' && action !== 'revoke') throw new UsageError(action === undefined ? 'missing "devices" subcommand (enroll, list or revoke)' : `unknown devices subcommand "${action}" (enroll, list or revoke)`);
  if (action === 'enroll' && !values.name) throw new UsageError('devices enroll needs --name NAME (how the device is listed, e.g. "lobby-kiosk-1")');
  if (action !== 'enroll' && values.name !== undefined) throw new UsageError('--name is for devices enroll');
  if (action === 'revoke' && !target) throw new UsageError('devices revoke needs the id or name of the device (see devices list)');
  const rest = action === 'revoke' ? extra : [target, ...extra].filter((x) => x !== undefined);
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const runtime = storeRuntime(values);
  return {
    kind: 'devices',
    action,
    runtime,
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(action === 'revoke' ? { target: target! } : {}),
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.namespace !== undefined ? { namespace: parseNamespace(values.namespace) } : {}),
  };
}

function parseAdmin(action: 'doctor' | 'install' | 'verify' | 'uninstall', args: string[]): Command {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
      'dry-run': { type: 'boolean' },
      wait: { type: 'string' },
      'delete-homes': { type: 'boolean' },
      'delete-crds': { type: 'boolean' },
      template: { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (action !== 'install' && (values['dry-run'] || values.image !== undefined)) throw new UsageError('--dry-run and --image are for install');
  if (action !== 'install' && action !== 'verify' && values.wait !== undefined) throw new UsageError('--wait is for install and verify');
  if (action !== 'verify' && values.template !== undefined) throw new UsageError('--template is for verify');
  if (action !== 'uninstall' && (values['delete-homes'] || values['delete-crds'])) throw new UsageError('--delete-homes and --delete-crds are for uninstall');
  const wait = values.wait === undefined ? 180 : Number(values.wait);
  if (!Number.isInteger(wait) || wait < 1) throw new UsageError(`--wait must be a whole number of seconds, got "${values.wait}"`);
  return {
    kind: 'admin',
    action,
    namespace: values.namespace !== undefined ? parseNamespace(values.namespace) : 'porthole',
    dryRun: values['dry-run'] ?? false,
    waitSeconds: wait,
    deleteHomes: values['delete-homes'] ?? false,
    deleteCrds: values['delete-crds'] ?? false,
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.image !== undefined ? { image: values.image } : {}),
    ...(values.template !== undefined ? { template: values.template } : {}),
  };
}

/** Where `keys` and `devices` find the agent's stores: its data dir, or (kubernetes) Secrets in a namespace. */
function storeRuntime(values: { runtime?: string; kubeconfig?: string; namespace?: string }): 'local' | 'kubernetes' {
  const runtime = values.runtime ?? 'local';
  if (runtime !== 'local' && runtime !== 'kubernetes') throw new UsageError(`--runtime must be local or kubernetes, got "${runtime}"`);
  if (runtime === 'local' && (values.kubeconfig !== undefined || values.namespace !== undefined)) throw new UsageError('--kubeconfig and --namespace are for --runtime kubernetes');
  return runtime;
}
