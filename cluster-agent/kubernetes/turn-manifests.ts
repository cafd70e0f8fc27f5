/**
 * The TURN relay `porthole-agent manifests --turn-external-host HOST` installs beside the agent: coturn
 * with the REST-API shared secret (use-auth-secret) that the agent mints per-viewer credentials from.
 * Pure: typed objects, the coturn config, and the shell step that adds the secret to it at pod start.
 *
 * How it is wired (docs/kubernetes.md, "TURN"):
 * - Clients outside the cluster reach coturn's listening port (3478 in the pod, UDP and TCP) through a
 *   Service (LoadBalancer, or NodePort) at HOST. The relay ports are not exposed: the only peers a
 *   relay may send to are the session pods, which reach coturn's relay addresses (its pod IP) directly
 *   on the pod network. So coturn runs without `external-ip`: the relayed address it hands out is its
 *   pod IP, which is exactly what the streamer in a session pod can reach.
 * - Peers are restricted twice (the TURN SSRF: a relay must not become a way into the cluster):
 *   coturn itself denies every address and allows only the pod network(s) given with --pod-cidr
 *   (no node, Service, metadata or loopback addresses; no multicast; no TCP relays), and a
 *   NetworkPolicy lets coturn send to the session pods only, over UDP.
 * - The shared secret lives in the Secret `porthole-turn`, which the agent creates on its first start
 *   (32 random bytes) and reads through the API (`serve --turn-secret-name`). It is in no manifest, no
 *   ConfigMap, no command line and no environment variable: an init container appends it to the config
 *   file in a memory-backed emptyDir, which only the coturn container mounts.
 */
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { V1ConfigMap, V1Container, V1Deployment, V1LabelSelector, V1NetworkPolicy, V1SecurityContext, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { LABELS } from './resources.js';

export const TURN_NAME = 'porthole-turn';
/** The Secret with the shared secret (key `secret`): created by the agent, mounted by coturn's init container. */
export const TURN_SECRET_NAME = 'porthole-turn';
export const TURN_SECRET_KEY = 'secret';
export const DEFAULT_TURN_IMAGE = 'docker.io/coturn/coturn:4.6';
/** coturn's listening port inside its pod (UDP and TCP). */
export const TURN_LISTEN_PORT = 3478;
export const DEFAULT_TURN_NODE_PORT = 30478;
/** coturn's own default relay range; the pod has its network namespace to itself. */
export const DEFAULT_RELAY_PORTS = { min: 49152, max: 65535 } as const;
/** uid/gid `nobody` of the coturn image (it names the user, so runAsNonRoot needs the number). */
const TURN_UID = 65534;
/** Allocations one credential (one viewer of one session) may hold: a browser makes one per transport. */
const USER_QUOTA = 10;

export interface TurnOptions {
  /** the name or address clients use to reach the TURN Service (a LoadBalancer's, or a node's) */
  externalHost: string;
  /** the pod network(s): the only addresses a relay may send to */
  podCidrs: string[];
  serviceType?: 'LoadBalancer' | 'NodePort';
  /** the port clients use: the LoadBalancer's port (default 3478) or the nodePort (default 30478) */
  port?: number;
  image?: string;
  relayPorts?: { min: number; max: number };
}

/** Where the init container finds its inputs and writes the config; the pod's paths unless a test renders it elsewhere. */
export interface TurnConfigPaths {
  template: string;
  secret: string;
  out: string;
}

const POD_PATHS: TurnConfigPaths = {
  template: '/etc/porthole-turn/template/turnserver.conf',
  secret: `/etc/porthole-turn/secret/${TURN_SECRET_KEY}`,
  out: '/etc/porthole-turn/assembled/turnserver.conf',
};
/** Where the coturn container sees the assembled config (the same emptyDir, read-only). */
const TURN_CONF = '/etc/coturn/turnserver.conf';

/** A TURN option the manifests cannot be made from (the CLI prints it as a usage error). */
export class TurnOptionError extends Error {}

export function turnPort(opts: TurnOptions): number {
  return opts.port ?? (opts.serviceType === 'NodePort' ? DEFAULT_TURN_NODE_PORT : TURN_LISTEN_PORT);
}

/** The ICE URLs the agent hands out: UDP first (what a browser prefers), TCP for networks that block UDP. */
export function turnUrls(opts: TurnOptions): string[] {
  const host = isIPv6(opts.externalHost) ? `[${opts.externalHost}]` : opts.externalHost;
  const port = turnPort(opts);
  return [`turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`];
}

// ---- addresses ----

function ipToBigInt(ip: string): { value: bigint; bits: 32 | 128 } {
  if (isIPv4(ip)) return { value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  if (!isIPv6(ip)) throw new Error(`not an IP address: "${ip}"`);
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two more groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1]!).value;
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

function bigIntToIp(value: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

/** Pure: "10.244.0.0/16" -> "10.244.0.0-10.244.255.255", the `ip-ip` form coturn's peer lists take (no CIDR). */
export function cidrToRange(cidr: string): string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) throw new Error(`not a CIDR (ADDRESS/PREFIX): "${cidr}"`);
  const { value, bits } = ipToBigInt(m[1]!);
  const prefix = Number(m[2]);
  if (prefix > bits) throw new Error(`prefix /${prefix} is longer than an IPv${bits === 32 ? 4 : 6} address: "${cidr}"`);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostMask) !== 0n) throw new Error(`"${cidr}" has host bits set; the network is ${bigIntToIp(value & ~hostMask, bits)}/${prefix}`);
  return `${bigIntToIp(value, bits)}-${bigIntToIp(value | hostMask, bits)}`;
}

// ---- coturn's config ----

/**
 * Pure: coturn's turnserver.conf, everything but the shared secret (the init container appends
 * `static-auth-secret=` from the Secret). Each line says why it is there.
 */
export function turnServerConf(opts: TurnOptions): string {
  const relay = opts.relayPorts ?? DEFAULT_RELAY_PORTS;
  const lines = [
    `# Porthole's TURN relay (coturn), from \`porthole-agent manifests\`. The shared secret is appended at pod start`,
    `# from the Secret ${TURN_SECRET_NAME}; it is never in this file's ConfigMap.`,
    `listening-port=${TURN_LISTEN_PORT}`,
    `min-port=${relay.min}`,
    `max-port=${relay.max}`,
    '# REST-API credentials: user name <expiry>:<session>.<user>, password HMAC-SHA1(shared secret, user name)',
    'use-auth-secret',
    `realm=${opts.externalHost}`,
    `server-name=${opts.externalHost}`,
    'fingerprint',
    'stale-nonce=600',
    `user-quota=${USER_QUOTA}`,
    '# No management surface: no telnet CLI, no web admin, no version in responses.',
    'no-cli',
    'no-software-attribute',
    '# No TLS listener (no certificate here); should one be added, never TLS 1.0/1.1.',
    'no-tls',
    'no-dtls',
    'no-tlsv1',
    'no-tlsv1_1',
    '# Peers: WebRTC relays UDP only, and only to the session pods. coturn refuses loopback peers by',
    '# default (no allow-loopback-peers); every other address is denied except the pod network, where',
    '# the NetworkPolicy narrows it to session pods. allowed-peer-ip wins over denied-peer-ip.',
    'no-tcp-relay',
    'no-multicast-peers',
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...opts.podCidrs.map((c) => {
      try {
        return `allowed-peer-ip=${cidrToRange(c)}`;
      } catch (err) {
        throw new TurnOptionError(`--pod-cidr: ${(err as Error).message}`);
      }
    }),
    '# Nothing from a database may widen that (coturn reads peer lists, realms and secrets from one if present).',
    'no-dynamic-ip-list',
    'no-dynamic-realms',
    'no-auth-pings',
    '# STUN answers only what ICE needs.',
    'no-rfc5780',
    'no-stun-backward-compatibility',
    'response-origin-only-with-rfc5780',
    '# Read-only root file system: the pid file and the (empty) SQLite database go to an emptyDir.',
    'pidfile=/var/tmp/turnserver.pid',
    'userdb=/var/tmp/turndb',
    'log-file=stdout',
    'simple-log',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Pure: the init container's script (POSIX sh): the config from the ConfigMap plus `static-auth-secret=`
 * from the Secret, written 0600 to the memory-backed emptyDir. `printf` is a shell builtin, so the
 * secret is on no process's command line. A secret coturn's config cannot carry is refused.
 */
export function turnConfigScript(paths: TurnConfigPaths = POD_PATHS): string {
  return [
    'set -eu',
    'umask 077',
    `secret=$(cat '${paths.secret}')`,
    'case "$secret" in',
    `  ''|*[!A-Za-z0-9+/=_.-]*) echo "porthole-turn: key \\"${TURN_SECRET_KEY}\\" of the Secret ${TURN_SECRET_NAME} must be letters, digits and +/=_.- only" >&2; exit 1 ;;`,
    'esac',
    `if [ "\${#secret}" -lt 16 ]; then echo "porthole-turn: key \\"${TURN_SECRET_KEY}\\" of the Secret ${TURN_SECRET_NAME} must be at least 16 characters" >&2; exit 1; fi`,
    `{ cat '${paths.template}'; printf 'static-auth-secret=%s\\n' "$secret"; } > '${paths.out}'`,
  ].join('\n');
}

// ---- objects ----

const turnSelector = { [LABELS.name]: TURN_NAME };
const turnLabels = { ...turnSelector, [LABELS.partOf]: 'porthole', [LABELS.component]: 'turn' };

/**
 * The restricted Pod Security Standard, plus NET_BIND_SERVICE for coturn: the image's turnserver
 * carries the file capability cap_net_bind_service=+ep, and the kernel refuses to exec such a binary
 * (EPERM) when that capability is not in the bounding set. restricted allows exactly this one, and it
 * is all the process holds: the right to bind ports below 1024 (it binds 3478 anyway).
 */
function containerSecurity(addNetBindService: boolean): V1SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'], ...(addNetBindService ? { add: ['NET_BIND_SERVICE'] } : {}) },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The objects that install the relay; `sessionPods` selects every desktop pod (the NetworkPolicies' selector). */
export function turnObjects(namespace: string, opts: TurnOptions, sessionPods: V1LabelSelector): { type: string; object: object }[] {
  const relay = opts.relayPorts ?? DEFAULT_RELAY_PORTS;
  const image = opts.image ?? DEFAULT_TURN_IMAGE;
  const meta = (name: string) => ({ name, namespace, labels: turnLabels });
  const conf = turnServerConf(opts);

  // An identity of its own with no bindings and no token: coturn never talks to the API server.
  const sa: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(TURN_NAME), automountServiceAccountToken: false };
  const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(TURN_NAME), data: { 'turnserver.conf': conf } };
  const init: V1Container = {
    name: 'config',
    image,
    command: ['sh', '-c', turnConfigScript()],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '32Mi' } },
    securityContext: containerSecurity(false),
    volumeMounts: [
      { name: 'template', mountPath: '/etc/porthole-turn/template', readOnly: true },
      { name: 'secret', mountPath: '/etc/porthole-turn/secret', readOnly: true },
      { name: 'assembled', mountPath: '/etc/porthole-turn/assembled' },
    ],
  };
  const turnserver: V1Container = {
    name: 'turnserver',
    image,
    // The binary itself, not the image's entrypoint (which runs every argument through `eval`).
    command: ['turnserver', '-c', TURN_CONF],
    ports: [
      { name: 'turn-udp', containerPort: TURN_LISTEN_PORT, protocol: 'UDP' },
      { name: 'turn-tcp', containerPort: TURN_LISTEN_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { tcpSocket: { port: 'turn-tcp' }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: { tcpSocket: { port: 'turn-tcp' }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 },
    // Relaying video costs CPU: requested, not limited (throttling a relay shows as frame drops).
    resources: { requests: { cpu: '200m', memory: '64Mi' }, limits: { memory: '512Mi' } },
    securityContext: containerSecurity(true),
    volumeMounts: [
      { name: 'assembled', mountPath: '/etc/coturn', readOnly: true },
      { name: 'var-tmp', mountPath: '/var/tmp' },
    ],
  };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(TURN_NAME),
    spec: {
      // One: a client's allocation lives in one coturn process; behind a Service a second replica
      // could take a client's packets after a conntrack entry expires (docs/kubernetes.md, "TURN").
      replicas: 1,
      selector: { matchLabels: turnSelector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: turnLabels,
          // A changed config (re-applied manifests) rolls the pod: coturn reads its config once.
          annotations: { 'porthole.dev/turnserver-conf-sha256': createHash('sha256').update(conf).digest('hex') },
        },
        spec: {
          serviceAccountName: TURN_NAME,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: TURN_UID, runAsGroup: TURN_UID, fsGroup: TURN_UID, seccompProfile: { type: 'RuntimeDefault' } },
          initContainers: [init],
          containers: [turnserver],
          volumes: [
            { name: 'template', configMap: { name: TURN_NAME, items: [{ key: 'turnserver.conf', path: 'turnserver.conf' }] } },
            // Not optional: until the agent's first start has created the Secret the pod waits (FailedMount), then starts.
            { name: 'secret', secret: { secretName: TURN_SECRET_NAME, items: [{ key: TURN_SECRET_KEY, path: TURN_SECRET_KEY }], defaultMode: 0o440 } },
            { name: 'assembled', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
            { name: 'var-tmp', emptyDir: { sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
  const nodePort = opts.serviceType === 'NodePort';
  const port = turnPort(opts);
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(TURN_NAME),
    spec: {
      type: nodePort ? 'NodePort' : 'LoadBalancer',
      selector: turnSelector,
      // Only the listening port: relay ports face the pod network (see the file's comment).
      ports: (['UDP', 'TCP'] as const).map((protocol) => ({
        name: `turn-${protocol.toLowerCase()}`,
        protocol,
        port: nodePort ? TURN_LISTEN_PORT : port,
        targetPort: TURN_LISTEN_PORT,
        ...(nodePort ? { nodePort: port } : {}),
      })),
    },
  };
  const policy: V1NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: TURN_NAME, namespace, labels: { [LABELS.partOf]: 'porthole' } },
    spec: {
      podSelector: { matchLabels: turnSelector },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        // Clients, from anywhere: the TURN port only.
        { ports: [{ protocol: 'UDP', port: TURN_LISTEN_PORT }, { protocol: 'TCP', port: TURN_LISTEN_PORT }] },
        // Streamers' ICE checks to the relay addresses.
        { _from: [{ podSelector: sessionPods }], ports: [{ protocol: 'UDP', port: relay.min, endPort: relay.max }] },
      ],
      // Relayed media to session pods, nothing else (replies to clients ride their flows). No DNS: coturn resolves nothing.
      egress: [{ to: [{ podSelector: sessionPods }], ports: [{ protocol: 'UDP' }] }],
    },
  };
  return [
    { type: 'V1ServiceAccount', object: sa },
    { type: 'V1ConfigMap', object: configMap },
    { type: 'V1Deployment', object: deployment },
    { type: 'V1Service', object: service },
    { type: 'V1NetworkPolicy', object: policy },
  ];
}
