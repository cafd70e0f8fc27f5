/**
 * The TURN relay the manifests install, run for real: Debian's coturn (the same turnserver as the
 * coturn/coturn image, 4.6) started with exactly the config file the pod assembles: the ConfigMap's
 * text and the init container's script, run with sh on a secret made by the agent's own generator.
 * Only what is local to the pod is changed on the command line (listen and relay on 127.0.0.1, free
 * ports, the pid file and database in a temp dir). Then a TURN client asks it what it allows: the
 * agent's minted credentials (ice-servers.ts) over UDP and TCP, forged/altered/expired ones, relaying to
 * the pod network and to everything else (the TURN SSRF), TCP relays.
 *
 * As root, coturn runs as the pod runs it: the pod's uid/gid, the container's capability bounding set,
 * no_new_privs (allowPrivilegeEscalation: false), on a copy of turnserver carrying the image's file
 * capability (cap_net_bind_service=+ep); and the reason for NET_BIND_SERVICE is shown by a real exec.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iceServersFor, turnPassword } from '../../cluster-agent/agent/ice-servers.js';
import { turnConfigScript, turnObjects, turnUrls, TURN_NAME, type TurnOptions } from '../../cluster-agent/kubernetes/turn-manifests.js';
import { newTurnSecret } from '../../cluster-agent/runtime/kubernetes/turn-secret.js';
import { tempDir, waitFor } from '../support/processes.js';
import { TRANSPORT, TurnClient } from '../support/turn-client.js';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const OPTS: TurnOptions = { externalHost: 'turn.porthole.test', podCidrs: ['10.244.0.0/16'] };
const objects = turnObjects('porthole', OPTS, { matchLabels: { 'app.kubernetes.io/name': 'porthole-desktop' } });
const configMap = objects.find((o) => o.type === 'V1ConfigMap')!.object as V1ConfigMap;
const pod = (objects.find((o) => o.type === 'V1Deployment')!.object as V1Deployment).spec!.template.spec!;
const turnContainer = pod.containers.find((c) => c.name === 'turnserver')!;
const podUid = pod.securityContext!.runAsUser!;
const podGid = pod.securityContext!.runAsGroup!;

const dir = tempDir('turn-server');
const secret = newTurnSecret();
let port = 0;
let relayMin = 0;
let relayMax = 0;
let coturn: ChildProcess | undefined;
const log: string[] = [];

/** A port free for both TCP and UDP on 127.0.0.1. */
async function freePort(): Promise<number> {
  for (;;) {
    const tcp = createServer();
    const p = await new Promise<number>((r) => tcp.listen(0, '127.0.0.1', () => r((tcp.address() as { port: number }).port)));
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(p, '127.0.0.1', () => r(true));
    });
    await new Promise((r) => tcp.close(r));
    if (free) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (p < 65000) return p;
    }
  }
}

/** setpriv arguments that put a process where the pod's container would be: its user, capabilities and no_new_privs. */
function asPod(capabilities: { add?: string[]; drop?: string[] }): string[] {
  const bounding = ['-all', ...(capabilities.add ?? []).map((c) => `+${c.toLowerCase()}`)].join(',');
  return ['--reuid', String(podUid), '--regid', String(podGid), '--clear-groups', '--bounding-set', bounding, '--inh-caps', '-all', '--no-new-privs'];
}

/** The init container's script on these paths, run by sh (as the pod's user when root); resolves with its exit and stderr. */
function assemble(secretText: string, name: string): Promise<{ code: number; stderr: string; out: string }> {
  const paths = { template: join(dir.path, 'template.conf'), secret: join(dir.path, `${name}.secret`), out: join(dir.path, 'assembled', `${name}.conf`) };
  writeFileSync(paths.secret, secretText, { mode: 0o440 });
  if (asRoot) chownSync(paths.secret, 0, podGid);
  const argv = asRoot ? ['setpriv', [...asPod(pod.initContainers![0]!.securityContext!.capabilities!), 'sh', '-c', turnConfigScript(paths)]] : ['sh', ['-c', turnConfigScript(paths)]];
  return new Promise((resolve) => {
    execFile(argv[0] as string, argv[1] as string[], (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr, out: paths.out }));
  });
}

beforeAll(async () => {
  // The pod's user must be able to reach the files, as it can its volumes.
  chmodSync(dir.path, 0o755);
  writeFileSync(join(dir.path, 'template.conf'), configMap.data!['turnserver.conf']!, { mode: 0o644 });
  // The pod's two emptyDirs: where the init container writes the config, and coturn's /var/tmp.
  const varTmp = join(dir.path, 'var-tmp');
  for (const d of [varTmp, join(dir.path, 'assembled')]) {
    mkdirSync(d);
    if (asRoot) chownSync(d, podUid, podGid);
  }

  const assembled = await assemble(secret, 'turnserver');
  expect(assembled.code, assembled.stderr).toBe(0);

  port = await freePort();
  relayMin = port + 1;
  relayMax = port + 40;
  let binary = 'turnserver';
  if (asRoot) {
    // As in the coturn image: the binary carries cap_net_bind_service=+ep.
    binary = join(dir.path, 'turnserver');
    copyFileSync('/usr/bin/turnserver', binary);
    chmodSync(binary, 0o755);
    await run('setcap', ['cap_net_bind_service=+ep', binary]);
  }
  const args = [
    '-c', assembled.out,
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`, `--min-port=${relayMin}`, `--max-port=${relayMax}`,
    `--pidfile=${join(varTmp, 'turnserver.pid')}`, `--userdb=${join(varTmp, 'turndb')}`,
  ];
  coturn = asRoot ? spawn('setpriv', [...asPod(turnContainer.securityContext!.capabilities!), binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [coturn.stdout!, coturn.stderr!]) s.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
  await waitFor(
    'coturn listening on TCP and UDP',
    () =>
      log.some((l) => /Total General servers/.test(l)) &&
      new Promise<boolean | undefined>((r) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          r(true);
        });
        s.once('error', () => r(undefined));
      }),
    15_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${log.join('\n')}`);
  });
}, 30_000);

afterAll(() => {
  coturn?.kill('SIGKILL');
  dir.remove();
});

/** The agent's credential for one viewer, as the connect route makes it. */
function minted(user: string, session: string, nowMs = Date.now(), withSecret = secret): { username: string; credential: string; urls: string[] } {
  const [server] = iceServersFor({ stun: [], turn: { urls: turnUrls(OPTS), secret: withSecret, ttlSeconds: 600 } }, user, session, nowMs);
  return server as { username: string; credential: string; urls: string[] };
}

async function allocate(transport: 'udp' | 'tcp', username: string, password: string, requested: number = TRANSPORT.udp) {
  const client = await TurnClient.open(transport, '127.0.0.1', port);
  return { client, answer: await client.allocate(username, password, requested) };
}

describe('the init container', () => {
  it("writes the ConfigMap's config and then the Secret's value, readable by its owner only", () => {
    const out = join(dir.path, 'assembled', 'turnserver.conf');
    expect(readFileSync(out, 'utf8')).toBe(`${configMap.data!['turnserver.conf']}static-auth-secret=${secret}\n`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    if (asRoot) expect(statSync(out).uid).toBe(podUid);
    // The pod runs exactly this script, on its volumes' paths.
    expect(pod.initContainers![0]!.command).toEqual(['sh', '-c', turnConfigScript()]);
  });

  it.each([
    ['too short', 'abc123', /at least 16 characters/],
    ['a space', 'abcdefgh ijklmnopq', /letters, digits and \+\/=_\.- only/],
    ['a line break inside', 'abcdefghij\nklmnopqrs', /letters, digits and \+\/=_\.- only/],
    ['a second config line', 'abcdefghijklmnop\nallowed-peer-ip=0.0.0.0-255.255.255.255', /letters, digits/],
    ['nothing', '', /letters, digits/],
  ])('refuses a secret with %s, saying why, and writes no config', async (what, value, reason) => {
    const result = await assemble(value, `bad-${what.replaceAll(' ', '-')}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).toContain(`Secret ${TURN_NAME}`);
    expect(existsSync(result.out)).toBe(false);
  });

  it('keeps one trailing newline out of the secret, as the agent does', async () => {
    const result = await assemble(`${secret}\n`, 'newline');
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(result.out, 'utf8').endsWith(`static-auth-secret=${secret}\n`)).toBe(true);
  });
});

describe('coturn with the manifests config', () => {
  it('accepts the credential the agent mints for a viewer, over UDP and over TCP, and relays from its range', async () => {
    const cred = minted('alice', 'alice-xfce-0a1b2c3d');
    expect(cred.urls).toEqual(['turn:turn.porthole.test:3478?transport=udp', 'turn:turn.porthole.test:3478?transport=tcp']);
    for (const transport of ['udp', 'tcp'] as const) {
      const { client, answer } = await allocate(transport, cred.username, cred.credential);
      try {
        expect(answer, transport).toMatchObject({ ok: true, relayed: { address: '127.0.0.1' } });
        const relayed = (answer as { relayed: { port: number } }).relayed.port;
        expect(relayed).toBeGreaterThanOrEqual(relayMin);
        expect(relayed).toBeLessThanOrEqual(relayMax);
      } finally {
        await client.release();
        client.close();
      }
    }
  });

  it('refuses forged, altered and expired credentials (401)', async () => {
    const good = minted('alice', 'alice-xfce-0a1b2c3d');
    const expired = minted('alice', 'alice-xfce-0a1b2c3d', Date.now() - 3_600_000);
    const forged: [string, string, string][] = [
      ['password from another secret', good.username, minted('alice', 'alice-xfce-0a1b2c3d', Date.now(), newTurnSecret()).credential],
      ["another user's name with alice's password", good.username.replace('.alice', '.mallory'), good.credential],
      ['a later expiry with the old password', good.username.replace(/^\d+/, (t) => String(Number(t) + 86_400)), good.credential],
      ['an expired credential, correctly signed', expired.username, expired.credential],
      ['a password made from the user name alone', good.username, turnPassword('', good.username)],
    ];
    // The expired one really is what the agent would have minted an hour ago (so 401 is the expiry, not a typo).
    expect(expired.credential).toBe(turnPassword(secret, expired.username));
    for (const [what, username, password] of forged) {
      const { client, answer } = await allocate('udp', username, password);
      client.close();
      expect(answer, what).toMatchObject({ ok: false, code: 401 });
    }
  });

  it('relays to the pod network only: no Service, node, metadata, loopback, multicast or outside address', async () => {
    const cred = minted('bob', 'bob-xfce-11223344');
    const { client, answer } = await allocate('udp', cred.username, cred.credential);
    try {
      expect(answer.ok).toBe(true);
      const allowed = ['10.244.0.1', '10.244.3.7', '10.244.255.254'];
      const denied = ['10.245.0.1', '10.243.255.255', '10.96.0.1', '10.96.0.10', '192.168.1.10', '172.16.0.1', '169.254.169.254', '127.0.0.1', '127.0.0.53', '0.0.0.0', '224.0.0.251', '255.255.255.255', '8.8.8.8'];
      for (const peer of allowed) expect(await client.createPermission(peer), peer).toEqual({ ok: true });
      for (const peer of denied) expect(await client.createPermission(peer), peer).toMatchObject({ ok: false, code: 403 });
    } finally {
      await client.release();
      client.close();
    }
  });

  it('allocates no TCP relays (RFC 6062), which could reach TCP services on pods', async () => {
    const cred = minted('carol', 'carol-xfce-55667788');
    const { client, answer } = await allocate('tcp', cred.username, cred.credential, TRANSPORT.tcp);
    client.close();
    expect(answer).toMatchObject({ ok: false, code: 442 });
  });

  it('listens on the TURN port only: no management CLI, web admin or TLS listener', async () => {
    // Every TCP socket coturn's process listens on (coturn's CLI would be 127.0.0.1:5766, TLS 5349).
    const { stdout } = await run('ss', ['-Hltnp']);
    const mine = stdout.split('\n').filter((l) => l.includes(`pid=${coturn!.pid!},`));
    // (one socket per listener thread, all on the one address)
    expect(mine.length).toBeGreaterThan(0);
    expect([...new Set(mine.map((l) => l.trim().split(/\s+/)[3]))]).toEqual([`127.0.0.1:${port}`]);
  });
});

if (asRoot) {
  describe("coturn as the pod runs it (root only: setpriv puts it in the pod's identity)", () => {
    it("runs as the pod's user, holding NET_BIND_SERVICE and no other capability, with no_new_privs", () => {
      const status = readFileSync(`/proc/${coturnPid()}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${podUid}\\s+${podUid}\\s+${podUid}\\s+${podUid}$`, 'm'));
      // Bit 10 is CAP_NET_BIND_SERVICE: the file capability, kept within the bounding set the manifest allows.
      const NET_BIND_SERVICE = (1n << 10n).toString(16).padStart(16, '0');
      for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(status).toMatch(new RegExp(`^${set}:\\s+${NET_BIND_SERVICE}$`, 'm'));
      expect(status).toMatch(/^CapInh:\s+0+$/m);
      expect(status).toMatch(/^CapAmb:\s+0+$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    });

    it("the image's turnserver (cap_net_bind_service=+ep) execs only with NET_BIND_SERVICE in the bounding set, as the manifest adds", async () => {
      const binary = join(dir.path, 'turnserver');
      const withManifest = await run('setpriv', [...asPod(turnContainer.securityContext!.capabilities!), binary, '--version']);
      expect(withManifest.stdout.trim()).toMatch(/^4\.6\./);
      const dropAllOnly = await run('setpriv', [...asPod({ drop: ['ALL'] }), binary, '--version']).then(
        () => 'ran',
        (e: { stderr?: string }) => e.stderr ?? '',
      );
      expect(dropAllOnly).toMatch(/Operation not permitted/);
    });
  });
}

/** coturn's own pid: the setpriv process execs it, so it is the child's pid. */
function coturnPid(): number {
  return coturn!.pid!;
}
