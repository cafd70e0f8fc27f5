/** The local runtime's small parts: pure logic, plus process handling on real (sleep) processes. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { displaysInProcNetUnix, firstFreeDisplay, pidInLockFile } from '../../cluster-agent/runtime/local/displays.js';
import { newSessionId, newVncPassword } from '../../cluster-agent/runtime/local/ids.js';
import { isOurs, parseCmdline, parseStat, pidAlive, stopGroups } from '../../cluster-agent/runtime/local/processes.js';
import { x11SetupRequest } from '../../cluster-agent/runtime/local/probes.js';
import { addStartSample } from '../../cluster-agent/runtime/local/start-stats.js';
import { pruneFinished, type LocalSessionRecord } from '../../cluster-agent/runtime/local/state-store.js';
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
});
