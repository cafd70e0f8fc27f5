/**
 * porthole-agent: `serve`, `users add`, `manifests`. The only place with process I/O (argv, stdin,
 * stdout, exit codes, signals); everything else is importable and testable.
 */
import { DeviceError, DeviceName, ENROLMENT_CODE_SECONDS, issueEnrolment, newEnrolmentCode, revokeDevice, type DeviceStore } from '../state/devices.js';
import { FileDeviceStore } from '../state/device-file.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { RuntimeError, type Runtime } from '../runtime/types.js';
import { startAgent, type RunningAgent } from './agent.js';
import type { ConnectTokenLedger } from '../state/connect-tokens.js';
import type { RefreshTokens } from '../state/refresh-tokens.js';
import { FileSigningKeyStore } from '../state/signing-key-file.js';
import { liveKeys, signingKeyFromPem, type SigningKeyStore } from '../state/signing-keys.js';
import { LdapProvider, type LdapConfig } from '../identity/ldap.js';
import { OidcProvider, type OidcConfig } from '../identity/oidc.js';
import { parseCommand, USAGE, UsageError, type Command } from './args.js';
import { ConfigError, mergeArgs, parseConfig } from './config-file.js';
import { DataDirError, ensureDirectory } from './data-dir.js';
import { upsertUser, UsersFileError } from '../identity/users-file.js';
import { DEFAULT_TURN_TTL_SECONDS, type IceConfig } from './ice-servers.js';

const EXIT_USAGE = 2;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is the shell's (echo, heredoc), not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function usersAdd(cmd: Extract<Command, { kind: 'users-add' }>): Promise<number> {
  const password = await readStdin();
  if (password.length === 0) {
    process.stderr.write('porthole-agent: no password on stdin; pipe one in, e.g. `printf %s "$PW" | porthole-agent users add ...`\n');
    return EXIT_USAGE;
  }
  try {
    const { created } = await upsertUser(cmd.file, cmd.name, password, cmd.groups);
    process.stdout.write(`${created ? 'added' : 'updated'} user ${cmd.name} in ${cmd.file}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsersFileError) {
      process.stderr.write(`porthole-agent: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

/** `keys rotate|list`: the same stores the agent uses, so a running agent picks the new key up. */
async function keys(cmd: Extract<Command, { kind: 'keys' }>): Promise<number> {
  let store: SigningKeyStore;
  let where: string;
  if (cmd.runtime === 'kubernetes') {
    const { loadKubeConfig, makeClients, DEFAULT_RUNTIME_NAMESPACE } = await import('../runtime/kubernetes/index.js');
    const { KubernetesSigningKeyStore, SIGNING_KEYS_SECRET } = await import('../state/kubernetes/signing-key-secret.js');
    const kc = loadKubeConfig(cmd.kubeconfig);
    const namespace = cmd.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || DEFAULT_RUNTIME_NAMESPACE);
    store = new KubernetesSigningKeyStore(makeClients(kc), namespace);
    where = `Secret ${namespace}/${SIGNING_KEYS_SECRET}`;
  } else {
    await ensureDirectory(cmd.dataDir);
    store = new FileSigningKeyStore(cmd.dataDir);
    where = cmd.dataDir;
  }
  try {
    const doc = cmd.action === 'rotate' ? await store.rotate() : await store.load();
    for (const [i, stored] of liveKeys(doc, Date.now()).entries()) {
      const state = i === 0 ? 'signs' : `verifies until ${new Date(stored.retiresAt!).toISOString()}`;
      process.stdout.write(`${signingKeyFromPem(stored.pem).kid}  created ${new Date(stored.createdAt).toISOString()}  ${state}\n`);
    }
    if (cmd.action === 'rotate') process.stderr.write(`porthole-agent: rotated the signing key in ${where}; running agents sign with it within 30 s\n`);
    return 0;
  } catch (err) {
    if (err instanceof RuntimeError || err instanceof DataDirError) {
      process.stderr.write(`porthole-agent: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** `devices enroll|list|revoke`: the store the agent reads, so a running agent sees the change within seconds. */
async function devices(cmd: Extract<Command, { kind: 'devices' }>): Promise<number> {
  let store: DeviceStore;
  if (cmd.runtime === 'kubernetes') {
    const { loadKubeConfig, makeClients, DEFAULT_RUNTIME_NAMESPACE } = await import('../runtime/kubernetes/index.js');
    const { KubernetesDeviceStore } = await import('../state/kubernetes/device-secret.js');
    const kc = loadKubeConfig(cmd.kubeconfig);
    const namespace = cmd.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || DEFAULT_RUNTIME_NAMESPACE);
    store = new KubernetesDeviceStore(makeClients(kc), namespace);
  } else {
    await ensureDirectory(cmd.dataDir);
    store = new FileDeviceStore(cmd.dataDir);
  }
  const now = Date.now();
  const when = (ms: number) => new Date(ms).toISOString();
  try {
    if (cmd.action === 'enroll') {
      const name = DeviceName.safeParse(cmd.name);
      if (!name.success) throw new UsageError(`--name: ${name.error.issues[0]!.message}`);
      const code = newEnrolmentCode();
      await store.update((doc) => ({ doc: issueEnrolment(doc, name.data, code, now), result: undefined }));
      process.stdout.write(`${code}\n`);
      process.stderr.write(`porthole-agent: enrolment code for "${name.data}" (${store.where}), valid until ${when(now + ENROLMENT_CODE_SECONDS * 1000)}; enter it on the device once\n`);
    } else if (cmd.action === 'revoke') {
      const device = await store.update((doc) => {
        const { doc: next, device } = revokeDevice(doc, cmd.target!, now);
        return { doc: next, result: device };
      });
      process.stderr.write(`porthole-agent: revoked ${device.id} ("${device.name}"); its sign-ins end within seconds\n`);
    } else {
      const doc = await store.load();
      for (const d of doc.devices) process.stdout.write(`${d.id}  ${d.name}  enrolled ${when(d.enrolledAt)}${d.revokedAt !== undefined ? `  revoked ${when(d.revokedAt)}` : ''}\n`);
      for (const e of doc.enrolments.filter((x) => x.expiresAt > now)) process.stdout.write(`(code)  ${e.name}  waiting until ${when(e.expiresAt)}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`porthole-agent: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof DeviceError || err instanceof RuntimeError || err instanceof DataDirError) {
      process.stderr.write(`porthole-agent: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

interface CreatedRuntime {
  runtime: Runtime;
  /** the kubernetes runtime's stores are Secrets, so every replica verifies and refreshes every token */
  signingKeys?: SigningKeyStore;
  openRefreshTokens?: () => Promise<RefreshTokens>;
  connectTokenLedger?: ConnectTokenLedger;
  /** the kubernetes runtime's enrolled devices live in a Secret */
  deviceStore?: DeviceStore;
  /** kubernetes runtime: the TURN shared secret from a Secret, created on the first start (--turn-secret-name) */
  loadTurnSecret?: (name: string) => Promise<string>;
}

async function createRuntime(cmd: Extract<Command, { kind: 'serve' }>, logger: pino.Logger): Promise<CreatedRuntime> {
  const log = logger.child({ component: 'runtime' });
  if (cmd.runtime === 'kubernetes') {
    const { createKubernetesRuntime } = await import('../runtime/kubernetes/index.js');
    const { KubernetesRefreshTokens } = await import('../state/kubernetes/refresh-token-secrets.js');
    const { KubernetesSigningKeyStore } = await import('../state/kubernetes/signing-key-secret.js');
    const startTimeout = Number(process.env.PORTHOLE_START_TIMEOUT_SECONDS);
    const created = createKubernetesRuntime({
      logger: log,
      ...(cmd.kubeconfig !== undefined ? { kubeconfig: cmd.kubeconfig } : {}),
      ...(cmd.namespace !== undefined ? { namespace: cmd.namespace } : {}),
      ...(startTimeout > 0 ? { startTimeoutMs: startTimeout * 1000 } : {}),
    });
    const { KubernetesDeviceStore } = await import('../state/kubernetes/device-secret.js');
    return {
      ...created,
      deviceStore: new KubernetesDeviceStore(created.clients, created.namespace),
      signingKeys: new KubernetesSigningKeyStore(created.clients, created.namespace),
      openRefreshTokens: () => Promise.resolve(new KubernetesRefreshTokens(created.clients, created.namespace)),
    };
  }
  const { createLocalRuntime } = await import('../runtime/local/index.js');
  // A subdirectory: the runtime's files (sessions, homes, sockets) stay apart from keys and tokens.
  // Whatever else the agent reads is hidden from desktops too, wherever it lies.
  return {
    runtime: await createLocalRuntime({
      dataDir: join(cmd.dataDir, 'local'),
      logger: log,
      isolation: cmd.unsafeSharedDesktops ? 'shared' : 'sandbox',
      hiddenPaths: [resolve(cmd.dataDir), resolve(cmd.usersFile)],
      ...streamerFor(cmd),
      ...(cmd.desktopUids ? { desktopUids: cmd.desktopUids } : {}),
    }),
  };
}

/**
 * STUN and TURN from the flags; the TURN secret is read from its file or, on the kubernetes runtime,
 * its Secret (created when missing), never from the command line.
 */
async function iceConfig(cmd: Extract<Command, { kind: 'serve' }>, created: CreatedRuntime): Promise<IceConfig> {
  if (cmd.turn?.length && !cmd.turnSecretFile && !cmd.turnSecretName) throw new RuntimeError('bad_request', '--turn needs --turn-secret-file FILE (or, in a cluster, --turn-secret-name SECRET) with the secret shared with the TURN server');
  let secret = '';
  if (cmd.turnSecretFile) {
    secret = (await readFile(cmd.turnSecretFile, 'utf8')).trim();
    if (secret.length < 16) throw new RuntimeError('bad_request', `${cmd.turnSecretFile}: the TURN secret must be at least 16 characters`);
  } else if (cmd.turnSecretName && cmd.turn?.length) {
    if (!created.loadTurnSecret) throw new RuntimeError('bad_request', '--turn-secret-name needs --runtime kubernetes');
    secret = await created.loadTurnSecret(cmd.turnSecretName);
  }
  return { stun: cmd.stun ?? [], ...(cmd.turn?.length ? { turn: { urls: cmd.turn, secret, ttlSeconds: cmd.turnTtl ?? DEFAULT_TURN_TTL_SECONDS } } : {}) };
}

/** The built WebRTC streamer: --streamer DIR, else dist/streamer beside the sources or beside the bundled agent. */
function streamerFor(cmd: Extract<Command, { kind: 'serve' }>): { streamer?: { dir: string; node: string; codecs?: string[] } } {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = cmd.streamerDir ? [resolve(cmd.streamerDir)] : [join(here, '..', '..', 'dist', 'streamer'), join(here, '..', 'streamer')];
  const dir = candidates.find((d) => existsSync(join(d, 'porthole-streamer.mjs')) && existsSync(join(d, 'porthole-enc')));
  return dir ? { streamer: { dir, node: process.execPath, ...(cmd.streamerCodecs ? { codecs: cmd.streamerCodecs } : {}) } } : {};
}

async function serve(cmd: Extract<Command, { kind: 'serve' }>): Promise<number> {
  // stdout carries only the "listening on" line (scripts wait for it); logs go to stderr.
  const logger = pino({ level: process.env.PORTHOLE_LOG_LEVEL ?? 'info' }, pino.destination(2));
  let created: CreatedRuntime;
  let ldap: LdapProvider | undefined;
  let oidc: OidcProvider | undefined;
  try {
    // The CA and service-account password files are read once, now: a missing one is said before anything starts.
    if (cmd.ldap) ldap = new LdapProvider(cmd.ldap);
  } catch (err) {
    process.stderr.write(`porthole-agent: identity.ldap: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  try {
    if (cmd.oidc) oidc = new OidcProvider(cmd.oidc);
  } catch (err) {
    process.stderr.write(`porthole-agent: identity.oidc: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  try {
    // Before the runtime: on a path where mkdir cannot succeed, say so and exit 1 instead of hanging.
    await ensureDirectory(cmd.dataDir);
    await ensureDirectory(join(cmd.dataDir, 'local'), "local desktops' directory");
  } catch (err) {
    if (!(err instanceof DataDirError)) throw err;
    process.stderr.write(`porthole-agent: ${err.message}\n`);
    return 1;
  }
  try {
    created = await createRuntime(cmd, logger);
  } catch (err) {
    if (!(err instanceof RuntimeError)) throw err;
    process.stderr.write(`porthole-agent: ${err.message}\n`);
    return err.code === 'bad_request' ? EXIT_USAGE : 1;
  }
  const { runtime } = created;
  let agent: RunningAgent;
  try {
    agent = await startAgent({
      runtime,
      dataDir: cmd.dataDir,
      usersFile: cmd.usersFile,
      ...(ldap ? { ldap } : {}),
      ...(oidc ? { oidc } : {}),
      ...(cmd.guest ? { guest: cmd.guest } : {}),
      host: cmd.host,
      port: cmd.port,
      logger,
      ...(cmd.publicUrl !== undefined ? { publicUrl: cmd.publicUrl } : {}),
      ...(cmd.idleTimeout !== undefined ? { idleTimeoutOverride: cmd.idleTimeout } : {}),
      ...(created.signingKeys ? { signingKeys: created.signingKeys } : {}),
      ...(cmd.keyRotationDays !== undefined ? { keyRotationSeconds: cmd.keyRotationDays * 86400 } : {}),
      ...(created.openRefreshTokens ? { openRefreshTokens: created.openRefreshTokens } : {}),
      ...(created.connectTokenLedger ? { connectTokenLedger: created.connectTokenLedger } : {}),
      ...(created.deviceStore ? { deviceStore: created.deviceStore } : {}),
      ...(cmd.devicesRequiredForGroups ? { devicesRequiredForGroups: cmd.devicesRequiredForGroups } : {}),
      ice: await iceConfig(cmd, created),
    });
  } catch (err) {
    await runtime.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') process.stderr.write(`porthole-agent: ${cmd.host}:${cmd.port} is already in use; pick another --listen port (0 = any free one)\n`);
    else if (e.code === 'EADDRNOTAVAIL') process.stderr.write(`porthole-agent: ${cmd.host} is not an address of this machine; check --listen\n`);
    else if (err instanceof RuntimeError) process.stderr.write(`porthole-agent: ${err.message}\n`);
    else process.stderr.write(`porthole-agent: could not start: ${e.message}\n`);
    return 1;
  }
  process.stdout.write(`listening on ${agent.url}\n`);

  return new Promise<number>((resolve) => {
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      logger.info({ signal }, 'shutting down; desktops keep running for the next agent');
      agent.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'unclean shutdown');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/** `serve --config FILE`: the file's settings become flags before the command line's (flags win). */
async function withConfig(argv: string[]): Promise<{ argv: string[]; ldap?: LdapConfig; oidc?: OidcConfig; guest?: { templates: string[] }; devicesRequiredForGroups?: string[] }> {
  const at = argv[0] === 'serve' ? argv.indexOf('--config') : -1;
  if (at < 0) return { argv };
  const file = argv[at + 1];
  if (file === undefined || file.startsWith('--')) throw new UsageError('--config needs a FILE');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config ${file}: ${(err as Error).message}`);
  }
  const parsed = parseConfig(text, file);
  const rest = [...argv.slice(1, at), ...argv.slice(at + 2)];
  return { argv: ['serve', ...mergeArgs(parsed.args, rest)], ...(parsed.ldap ? { ldap: parsed.ldap } : {}), ...(parsed.oidc ? { oidc: parsed.oidc } : {}), ...(parsed.guest ? { guest: parsed.guest } : {}), ...(parsed.devicesRequiredForGroups ? { devicesRequiredForGroups: parsed.devicesRequiredForGroups } : {}) };
}

async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    const expanded = await withConfig(argv);
    cmd = parseCommand(expanded.argv);
    if (cmd.kind === 'serve') cmd = { ...cmd, ...(expanded.ldap ? { ldap: expanded.ldap } : {}), ...(expanded.oidc ? { oidc: expanded.oidc } : {}), ...(expanded.guest ? { guest: expanded.guest } : {}), ...(expanded.devicesRequiredForGroups ? { devicesRequiredForGroups: expanded.devicesRequiredForGroups } : {}) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`porthole-agent: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`porthole-agent: ${err.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'manifests': {
      const { renderManifestsYaml } = await import('../kubernetes/install-manifests.js');
      const { TurnOptionError } = await import('../kubernetes/turn-manifests.js');
      let yaml: string;
      try {
        yaml = renderManifestsYaml({ namespace: cmd.namespace, image: cmd.image, ...(cmd.replicas !== undefined ? { replicas: cmd.replicas } : {}), ...(cmd.turn ? { turn: cmd.turn } : {}) });
      } catch (err) {
        if (!(err instanceof TurnOptionError)) throw err;
        process.stderr.write(`porthole-agent: ${err.message}\n\n${USAGE}\n`);
        return EXIT_USAGE;
      }
      process.stdout.write(yaml);
      return 0;
    }
    case 'users-add':
      return usersAdd(cmd);
    case 'keys':
      return keys(cmd);
    case 'devices':
      return devices(cmd);
    case 'admin': {
      const { runAdminCommand } = await import('../admin/commands.js');
      const { AdminError } = await import('../admin/cluster.js');
      try {
        return await runAdminCommand(cmd, (line) => process.stdout.write(`${line}\n`));
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
        process.stderr.write(`porthole-agent: ${err.message}\n`);
        return 1;
      }
    }
    case 'serve':
      return serve(cmd);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`porthole-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
