/**
 * What a person can reach from inside a local desktop, tried the way a person would: commands typed
 * into the desktop's terminal over VNC through the agent's gateway. Each line of docs/local-runtime.md's
 * "What a local desktop can reach" is one expectation here. The probe script is put into the person's
 * home from outside; what it finds, it writes back into the home, which the test reads.
 */
import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { REFRESH_STORE_FILE } from '../../cluster-agent/state/refresh-token-file.js';
import { SIGNING_KEYS_FILE } from '../../cluster-agent/state/signing-key-file.js';
import { upsertUser } from '../../cluster-agent/identity/users-file.js';
import { namespaceMembers } from '../../cluster-agent/runtime/local/processes.js';
import { stopAllSessions } from '../support/agent-api.js';
import { startCli, stopProcess, tempDir, waitFor, type Started } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { call } from './support.js';

interface Person {
  name: string;
  password: string;
  token: string;
  session: string;
  home: string;
  runDir: string;
  desktopNs: string;
}

interface Agent {
  url: string;
  dataDir: string;
  usersFile: string;
  cli: Started;
  dir: ReturnType<typeof tempDir>;
}

/** The agent CLI as root, or as an ordinary user (nobody) when this test runs as root. */
async function startAgentAs(as: { uid: number; gid: number } | undefined): Promise<Agent> {
  const dir = tempDir('isolation');
  const dataDir = join(dir.path, 'data');
  const usersFile = join(dataDir, 'users.yaml');
  await upsertUser(usersFile, 'alice', 'pw-alice', []);
  await upsertUser(usersFile, 'bob', 'pw-bob', []);
  if (as) {
    for (const p of [dir.path, dataDir, usersFile]) chownSync(p, as.uid, as.gid);
  }
  const cli = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', dataDir], /^listening on (\S+)/, 30_000, [], { as });
  return { url: cli.match[1]!, dataDir, usersFile, cli, dir };
}

function recordOf(agent: Agent, id: string): { runDir: string; processes: { desktop: { pidNs: string } } } {
  const state = JSON.parse(readFileSync(join(agent.dataDir, 'local', 'local-sessions.json'), 'utf8')) as { sessions: Array<{ session: { id: string }; runDir: string; processes: { desktop: { pidNs: string } } }> };
  return state.sessions.find((r) => r.session.id === id)!;
}

async function startDesktop(agent: Agent, name: string, password: string): Promise<Person> {
  const token = (await call(agent.url, 'POST', routes.login, { json: { username: name, password } })).body.accessToken as string;
  const { id } = (await call(agent.url, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body;
  await waitFor(`${name}'s desktop Running`, async () => (await call(agent.url, 'GET', routes.session(id), { token })).body.phase === 'Running' || undefined, 30_000);
  const rec = recordOf(agent, id);
  return { name, password, token, session: id, home: join(agent.dataDir, 'local', 'homes', name), runDir: rec.runDir, desktopNs: rec.processes.desktop.pidNs };
}

/** The checks, as a script the person runs in their terminal. One `key value` line each. */
function probeScript(agent: Agent, me: Person, other: Person, otherPid: number): string {
  const secrets = [join(agent.dataDir, SIGNING_KEYS_FILE), join(agent.dataDir, REFRESH_STORE_FILE), agent.usersFile, join(other.home, 'secret.txt'), join(me.runDir, 'vnc.password')];
  const dirs = [agent.dataDir, join(agent.dataDir, 'local'), other.home, join(agent.dataDir, 'local', 'homes'), other.runDir, me.runDir, '/run/porthole/vnc', '/root'];
  const unwritable = ['/', '/usr', '/etc', '/var', '/opt', '/run', '/home', '/run/porthole/desktop', agent.dir.path];
  const port = new URL(agent.url).port;
  return [
    '#!/bin/bash',
    'o="$HOME/probe.out.tmp"',
    '{',
    'echo "uid $(id -u)"',
    'echo "user $(id -un)"',
    ...secrets.map((f) => `if cat '${f}' >/dev/null 2>&1; then echo "read ${f}"; else echo "noread ${f}"; fi`),
    ...dirs.map((d) => `if ls '${d}' >/dev/null 2>&1; then echo "list ${d}"; else echo "nolist ${d}"; fi`),
    ...unwritable.map((d) => `if touch '${d}/probe-w' 2>/dev/null; then echo "wrote ${d}"; rm -f '${d}/probe-w'; else echo "nowrite ${d}"; fi`),
    ...['"$HOME"', '/tmp', '/dev/shm', '"$XDG_RUNTIME_DIR"'].map((d) => `if touch ${d}/probe-w 2>/dev/null; then echo "wrote ${d}"; else echo "nowrite ${d}"; fi`),
    `if kill -0 ${otherPid} 2>/dev/null; then echo "signal other"; else echo "nosignal other"; fi`,
    'echo "processes $(ps -e --no-headers | wc -l)"',
    'echo "xvnc $(ps -eo args --no-headers | grep -c [X]vnc)"',
    // pid 1 is the sandbox's own init (bwrap); everything else must be the person's
    `echo "others $(ps -eo pid=,user= | awk '$1 != 1 && $2 != "${me.name}"' | wc -l)"`,
    `if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo "net agent"; else echo "nonet agent"; fi`,
    'echo "passwd $(cut -d: -f1 /etc/passwd | tr "\\n" ,)"',
    'echo "nonewprivs $(grep NoNewPrivs /proc/self/status | cut -f2)"',
    'echo "capeff $(grep CapEff /proc/self/status | cut -f2)"',
    '} > "$o" 2>&1',
    'mv "$o" "$HOME/probe.out"',
    '',
  ].join('\n');
}

/** Types `bash ~/probe.sh` into the person's terminal until its answer appears in their home. */
async function runProbe(agent: Agent, p: Person, script: string): Promise<string[]> {
  writeFileSync(join(p.home, 'probe.sh'), script, { mode: 0o644 });
  chmodSync(join(p.home, 'probe.sh'), 0o644);
  const connect = (await call(agent.url, 'POST', routes.connect(p.session), { token: p.token })).body;
  const viewer = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
  const out = join(p.home, 'probe.out');
  try {
    // The first keys may land before openbox has focused xterm: type again until the answer is there.
    await waitFor(`${p.name}'s probe`, async () => {
      if (!existsSync(out)) viewer.typeLine('bash ~/probe.sh');
      await new Promise((r) => setTimeout(r, 700));
      return existsSync(out) || undefined;
    }, 20_000, 10);
  } finally {
    viewer.close();
  }
  return readFileSync(out, 'utf8').trim().split('\n');
}

/** The value of a `key value` line. */
const valueOf = (lines: string[], key: string) => lines.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1);
const withPrefix = (lines: string[], prefix: string) => lines.filter((l) => l.startsWith(`${prefix} `));

const asRoot = process.getuid?.() === 0;
const variants: Array<{ name: string; as?: { uid: number; gid: number } }> = asRoot
  ? [{ name: 'agent run as root' }, { name: 'agent run as an ordinary user', as: { uid: 65534, gid: 65534 } }]
  : [{ name: 'agent run as an ordinary user' }];

describe.each(variants)('a local desktop, from its own terminal ($name)', ({ as }) => {
  let agent: Agent;
  const people: Record<string, Person> = {};
  const probes: Record<string, string[]> = {};
  const runsAsRoot = asRoot && !as;

  beforeAll(async () => {
    agent = await startAgentAs(as);
    people.alice = await startDesktop(agent, 'alice', 'pw-alice');
    people.bob = await startDesktop(agent, 'bob', 'pw-bob');
    writeFileSync(join(people.bob.home, 'secret.txt'), 'bob only');
    writeFileSync(join(people.alice.home, 'secret.txt'), 'alice only');
    const pidOf = (p: Person) => namespaceMembers(p.desktopNs).at(-1)!;
    probes.alice = await runProbe(agent, people.alice, probeScript(agent, people.alice, people.bob, pidOf(people.bob)));
    probes.bob = await runProbe(agent, people.bob, probeScript(agent, people.bob, people.alice, pidOf(people.alice)));
  }, 120_000);

  afterAll(async () => {
    if (!agent) return;
    for (const p of Object.values(people)) await stopAllSessions(agent.url, p.name, p.password).catch(() => undefined);
    await stopProcess(agent.cli.child);
    agent.dir.remove();
  });

  it('runs as an unprivileged uid of its own person, different for each person, and never as root', () => {
    const a = Number(valueOf(probes.alice!, 'uid'));
    const b = Number(valueOf(probes.bob!, 'uid'));
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    // as root each person has a uid of their own; an agent that is not root runs everyone as itself
    if (runsAsRoot) expect(a).not.toBe(b);
    else expect(a).toBe(as?.uid ?? process.getuid!());
    expect(valueOf(probes.alice!, 'user')).toBe('alice');
    expect(valueOf(probes.alice!, 'passwd')).toBe('alice,nobody,'); // the machine's accounts are not listed
    expect(valueOf(probes.alice!, 'nonewprivs')).toBe('1');
    expect(valueOf(probes.alice!, 'capeff')).toBe('0000000000000000');
  });

  it("cannot read the agent's signing key, refresh tokens or users file, another person's files, or its own VNC password", () => {
    for (const lines of Object.values(probes)) {
      expect(withPrefix(lines, 'read')).toEqual([]);
      expect(withPrefix(lines, 'noread')).toHaveLength(5);
    }
  });

  it("cannot list the agent's data dir, the homes, another person's home or any session's run dir and VNC socket", () => {
    for (const lines of Object.values(probes)) {
      expect(withPrefix(lines, 'list')).toEqual([]);
      expect(withPrefix(lines, 'nolist')).toHaveLength(8);
    }
  });

  it('can write only its home, /tmp, /dev/shm and its runtime dir', () => {
    for (const lines of Object.values(probes)) {
      expect(withPrefix(lines, 'wrote')).toHaveLength(4);
      expect(withPrefix(lines, 'nowrite')).toHaveLength(9);
    }
    expect(readFileSync(join(people.alice!.home, 'secret.txt'), 'utf8')).toBe('alice only');
  });

  it("sees only its own desktop's processes: not its display server, not the other person's, and cannot signal them", () => {
    for (const lines of Object.values(probes)) {
      expect(valueOf(lines, 'signal')).toBeUndefined();
      expect(valueOf(lines, 'nosignal')).toBe('other');
      expect(valueOf(lines, 'xvnc')).toBe('0');
      expect(valueOf(lines, 'others')).toBe('0');
      expect(Number(valueOf(lines, 'processes'))).toBeLessThan(12); // bwrap's init, the script, openbox, xterm, bash and the probe itself
    }
  });

  it('has no network: not even the agent on loopback', () => {
    for (const lines of Object.values(probes)) expect(valueOf(lines, 'nonet')).toBe('agent');
  });
});
