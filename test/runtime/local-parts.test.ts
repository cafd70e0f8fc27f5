/** The local runtime's small parts: pure logic, plus process handling on real (sleep) processes. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { displaysInProcNetUnix, firstFreeDisplay, pidInLockFile } from '../../cluster-agent/runtime/local/displays.js';
import { newSessionId, newVncPassword } from '../../cluster-agent/runtime/local/ids.js';
import { isOurs, parseCmdline, parseStat, pidAlive, stopGroups } from '../../cluster-agent/runtime/local/processes.js';
import { x11SetupRequest } from '../../cluster-agent/runtime/local/probes.js';
import { addStartSample } from '../../cluster-agent/runtime/local/start-stats.js';
import { parseStateFile, pruneFinished, type LocalSessionRecord } from '../../cluster-agent/runtime/local/state-store.js';
import { lowestFreeUid, idsInAccountFile } from '../../cluster-agent/runtime/local/desktop-accounts.js';
import { parseUidRange } from '../../cluster-agent/agent/args.js';
import { accountFiles, bwrapArgs, isWithin, type SandboxProfile } from '../../cluster-agent/runtime/local/sandbox.js';
import { explainSandboxFailure } from '../../cluster-agent/runtime/local/sandbox-host.js';
import { parseBwrapInfo } from '../../cluster-agent/runtime/local/processes.js';
import { stopVerdict } from '../../cluster-agent/runtime/stop-expectation.js';
import type { Session } from '../../cluster-agent/contract/index.js';
import { builtInTemplates, desktopScript } from '../../cluster-agent/runtime/local/templates.js';
import { cookieFromXauthority, xauthorityEntry } from '../../cluster-agent/runtime/local/xauthority.js';
import { displayWasTaken, xvncArgv } from '../../cluster-agent/runtime/local/xvnc.js';
import { waitFor } from '../support/processes.js';

describe('local runtime parts', () => {
  it('makes short lower-case session ids and 8-character VNC passwords', () => {
    const ids = new Set(Array.from({ length: 200 }, newSessionId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^s-[a-z2-7]{10}$/);
    expect(newVncPassword()).toMatch(/^[A-Za-z0-9]{8}$/);
  });

  it('picks the first display nobody holds, and reads X locks and /proc/net/unix', () => {
    expect(firstFreeDisplay((n) => n < 23, 20, 30)).toBe(23);
    expect(firstFreeDisplay(() => true, 20, 30)).toBeUndefined();
    expect(pidInLockFile('      4242\n')).toBe(4242);
    expect(pidInLockFile('garbage')).toBeUndefined();
    const net = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 8743 @/tmp/.X11-unix/X57',
      '0000000000000000: 00000002 00000000 00010000 0001 01 8744 /tmp/.X11-unix/X21',
      '0000000000000000: 00000002 00000000 00010000 0001 01 8745 /tmp/pxt/sock',
    ].join('\n');
    expect([...displaysInProcNetUnix(net)].sort()).toEqual([21, 57]);
  });

  it('writes an Xauthority entry it can read back, and an X11 setup request padded to 4 bytes', () => {
    const cookie = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const file = xauthorityEntry(42, cookie);
    expect(file.readUInt16BE(0)).toBe(0xffff);
    expect(cookieFromXauthority(file)).toEqual(cookie);
    expect(cookieFromXauthority(Buffer.from([0, 1, 0]))).toBeUndefined();
    const setup = x11SetupRequest(cookie);
    expect(setup.length % 4).toBe(0);
    expect(setup.subarray(-16)).toEqual(cookie);
  });

  it('starts Xvnc with VNC only on a 0600 Unix socket, VncAuth and clipboard sync', () => {
    const argv = xvncArgv(25, { xvnc: '/usr/bin/Xvnc', xauthority: '/r/Xauthority', passwordFile: '/r/vnc.passwd', vncSocket: '/r/vnc.sock' }, "alice's Terminal").join(' ');
    for (const part of [':25 ', '-nolisten tcp', '-rfbport -1', '-rfbunixpath /r/vnc.sock', '-rfbunixmode 384', '-SecurityTypes VncAuth', '-PasswordFile /r/vnc.passwd', '-AlwaysShared', '-geometry 1280x800', '-depth 24', '-SendCutText=1', '-AcceptCutText=1', '-SetPrimary=1']) {
      expect(argv).toContain(part);
    }
    expect(displayWasTaken('Fatal server error:\n(EE) Server is already active for display 25')).toBe(true);
    expect(displayWasTaken('(EE) Cannot establish any listening sockets - Make sure an X server isn\'t already running')).toBe(true);
    expect(displayWasTaken('Segmentation fault')).toBe(false);
  });

  it('knows which templates can run and writes a script that records the exit status', () => {
    const none = builtInTemplates(() => false);
    expect(none.map((t) => [t.spec.name, t.spec.available])).toEqual([['terminal', false], ['xfce', false]]);
    expect(none[1]!.spec.unavailableReason).toMatch(/^The XFCE desktop is not installed on this machine .*: run `sudo apt-get install xfce4 dbus-x11`$/);
    const all = builtInTemplates(() => true);
    expect(all.every((t) => t.spec.available && t.spec.unavailableReason === undefined && t.spec.idleTimeoutSeconds === 1800)).toBe(true);
    const script = desktopScript(all[0]!);
    expect(script).toMatch(/^#!\/bin\/sh\n/);
    expect(script).toContain('echo "$status" > "$PORTHOLE_RUN_DIR/desktop.exit"');
    expect(desktopScript(all[1]!)).toContain('dbus-launch --exit-with-session startxfce4');
  });

  it('averages start durations: a mean at first, then a moving average', () => {
    let stat = addStartSample(undefined, 2);
    expect(stat).toEqual({ average: 2, samples: 1 });
    stat = addStartSample(stat, 1);
    expect(stat).toEqual({ average: 1.5, samples: 2 });
    for (let i = 0; i < 50; i++) stat = addStartSample(stat, 1);
    expect(stat.average).toBeCloseTo(1, 2);
  });

  it('prunes finished sessions after a day, keeping live ones', () => {
    const now = Date.parse('2026-01-02T12:00:00Z');
    const rec = (id: string, phase: LocalSessionRecord['session']['phase'], since: string): LocalSessionRecord => ({
      session: { id, user: 'a', template: 'terminal', phase, createdAt: since, phaseSince: since, connectedClients: 0 },
      runDir: `/x/${id}`,
      isolation: 'sandbox',
      processes: {},
    });
    const kept = pruneFinished([rec('old', 'Stopped', '2026-01-01T00:00:00Z'), rec('new', 'Failed', '2026-01-02T11:00:00Z'), rec('live', 'Running', '2025-01-01T00:00:00Z')], now);
    expect(kept.map((r) => r.session.id)).toEqual(['new', 'live']);
  });

  it('parses /proc cmdline and stat', () => {
    expect(parseCmdline('/bin/sh\0/x/desktop.sh\0')).toEqual(['/bin/sh', '/x/desktop.sh']);
    expect(parseStat('123 (we ird) proc) S 1 456 456 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000')).toEqual({ state: 'S', pgrp: 456, startTime: 98765 });
  });

  it('stops a process group and escaped processes tagged with the session, and tells ours by cmdline', async () => {
    const leader = spawn('/bin/sleep', ['61'], { detached: true, stdio: 'ignore' });
    // started in its own session, like a `setsid` job from a desktop terminal: only the tag finds it
    const escaped = spawn('/bin/sleep', ['62'], { detached: true, stdio: 'ignore', env: { PATH: '/usr/bin:/bin', PORTHOLE_SESSION: 's-testtagged' } });
    const other = spawn('/bin/sleep', ['63'], { detached: true, stdio: 'ignore', env: { PORTHOLE_SESSION: 's-testtaggedx' } });
    try {
      const ref = { pid: leader.pid!, argv: ['/bin/sleep', '61'] };
      expect(isOurs(ref)).toBe(true);
      expect(isOurs({ pid: leader.pid!, argv: ['/bin/sleep', '99'] })).toBe(false);
      await stopGroups([ref], 1_000, 'PORTHOLE_SESSION=s-testtagged');
      await waitFor('both gone', () => (!pidAlive(leader.pid!) && !pidAlive(escaped.pid!)) || undefined, 3_000, 20);
      expect(isOurs(ref)).toBe(false);
      expect(pidAlive(other.pid!)).toBe(true); // a different session's tag is not a prefix match
    } finally {
      for (const c of [leader, escaped, other]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  });

  it('builds a sandbox that shows the system read-only, covers hidden paths inside it, and runs the program as the person', () => {
    const profile: SandboxProfile = {
      identity: { kind: 'root-drop', uid: 3000001, gid: 3000001, setpriv: '/usr/bin/setpriv' },
      system: { symlinks: [{ name: 'bin', target: 'usr/bin' }], readOnly: ['/usr', '/etc'], readOnlyIfPresent: ['/var/cache/fontconfig'] },
      binds: [{ host: '/data/local/homes/alice', inside: '/home/alice', writable: true }, { host: '/data/local/run/s-1/x11', inside: '/tmp/.X11-unix', writable: false }],
      files: [{ host: '/data/local/run/s-1/desktop/passwd', inside: '/etc/passwd' }],
      hidden: ['/etc/porthole/agent', '/srv/agent-data'],
      programDirs: ['/usr/bin', '/bin', '/opt/tools/bin'],
      network: false,
      hostname: 'porthole',
      env: { HOME: '/home/alice' },
      cwd: '/home/alice',
      argv: ['/bin/sh', '/run/porthole/desktop/desktop.sh'],
    };
    const { options, command } = bwrapArgs(profile);
    const text = options.join(' ');
    expect(text).toContain('--unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --unshare-net --new-session');
    expect(text).toContain('--ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin');
    expect(text).toContain('--ro-bind /opt/tools/bin /opt/tools/bin'); // a program dir outside the system tree
    expect(text).not.toContain('--ro-bind /bin /bin'); // covered by the symlink
    expect(text).toContain('--tmpfs /etc/porthole/agent'); // hidden inside /etc: covered up
    expect(text).not.toContain('/srv/agent-data'); // hidden and never bound: nothing to cover
    expect(text).toContain('--perms 0755 --dir /home');
    expect(text).toContain('--bind /data/local/homes/alice /home/alice');
    expect(text).toContain('--ro-bind /data/local/run/s-1/x11 /tmp/.X11-unix');
    expect(text.indexOf('--remount-ro /')).toBeGreaterThan(text.indexOf('--bind /data/local/homes/alice'));
    expect(text).toContain('--clearenv --setenv HOME /home/alice --chdir /home/alice');
    expect(command).toEqual(['/usr/bin/setpriv', '--reuid=3000001', '--regid=3000001', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', '/bin/sh', '/run/porthole/desktop/desktop.sh']);
    const userns = bwrapArgs({ ...profile, identity: { kind: 'userns' }, network: true });
    expect(userns.options.join(' ')).toContain('--unshare-user --disable-userns');
    expect(userns.options.join(' ')).not.toContain('--unshare-net');
    expect(userns.options).toContain('--cap-drop');
    expect(userns.command).toEqual(profile.argv);
    expect(() => bwrapArgs({ ...profile, cwd: 'relative' })).toThrow(/absolute/);
    expect(isWithin('/etc/x', '/etc')).toBe(true);
    expect(isWithin('/etcetera', '/etc')).toBe(false);
  });

  it('gives each person the lowest free uid of the range, and names only them in the sandbox\'s passwd', () => {
    expect(parseUidRange('3000000-3000009')).toEqual({ first: 3000000, last: 3000009 });
    expect(parseUidRange('10-20')).toMatch(/1000 or above/);
    expect(parseUidRange('5000-4000')).toMatch(/ends before it starts/);
    expect(parseUidRange('abc')).toMatch(/FIRST-LAST/);
    expect(lowestFreeUid({ first: 10, last: 12 }, new Set([10, 11]))).toBe(12);
    expect(lowestFreeUid({ first: 10, last: 11 }, new Set([10, 11]))).toBeUndefined();
    expect([...idsInAccountFile('root:x:0:0::/root:/bin/sh\nbob:x:3000000:3000000::/home/bob:/bin/sh\n')]).toEqual([0, 3000000]);
    const files = accountFiles('alice', 3000001, 3000001, '/home/alice', '/bin/bash');
    expect(files.passwd).toBe('alice:x:3000001:3000001:alice:/home/alice:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    expect(files.group).toContain('alice:x:3000001:');
  });

  it('reads bwrap\'s info, and explains why a sandbox cannot be made', () => {
    expect(parseBwrapInfo('{\n "child-pid": 42,\n "pid-namespace": 4026532182\n}')).toEqual({ childPid: 42, pidNs: 'pid:[4026532182]' });
    expect(parseBwrapInfo('{\n "child-pid": 4')).toBeUndefined();
    expect(explainSandboxFailure('bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.', false)).toMatch(/does not let the agent's user create user namespaces.*--unsafe-shared-desktops/);
    expect(explainSandboxFailure('bwrap: Creating new namespace failed: Operation not permitted', true)).toMatch(/bubblewrap could not make one here \(it said: bwrap: Creating new namespace failed/);
  });

  it('stops only the session it decided about, and only while it is still idle', () => {
    const t = Date.parse('2026-01-02T12:00:00Z');
    const s: Session = { id: 's-1', user: 'a', template: 'terminal', phase: 'Running', createdAt: '2026-01-02T10:00:00Z', phaseSince: '2026-01-02T10:00:01Z', startedAt: '2026-01-02T10:00:01.500Z', connectedClients: 0, lastActiveAt: '2026-01-02T11:00:00Z' };
    expect(stopVerdict(s, {}, t)).toBe('stop');
    expect(stopVerdict(s, { createdAt: '2026-01-02T10:00:00Z', startedAt: '2026-01-02T10:00:01.500Z', idleTimeoutSeconds: 1800 }, t)).toBe('stop');
    expect(stopVerdict(s, { createdAt: '2026-01-02T09:00:00Z' }, t)).toBe('replaced');
    expect(stopVerdict(s, { idleTimeoutSeconds: 7200 }, t)).toBe('busy'); // idle 1 h, not 2
    expect(stopVerdict({ ...s, connectedClients: 1 }, { idleTimeoutSeconds: 60 }, t)).toBe('busy');
  });

  it('reads a state file of the version before sandboxes as shared desktops', () => {
    const v1 = { version: 1, startStats: {}, sessions: [{ session: { id: 's-1', user: 'a', template: 'terminal', phase: 'Running', createdAt: 'x', phaseSince: 'x', connectedClients: 0 }, runDir: '/r', display: 21, xvnc: { pid: 5, argv: ['Xvnc'] }, desktop: { pid: 6, argv: ['sh'] } }] };
    const state = parseStateFile(v1);
    expect(state.version).toBe(2);
    expect(state.sessions[0]).toMatchObject({ isolation: 'shared', display: 21, processes: { display: { pid: 5 }, desktop: { pid: 6 } } });
    expect(() => parseStateFile({ version: 3 })).toThrow();
  });
});
