/**
 * WebRTC through a real TURN server when UDP between viewer and desktop is blocked (a network namespace
 * with an nftables rule; see test/support/turn-only.ts): the agent's short-lived REST-API credentials
 * open a relay on Debian's coturn, and the desktop arrives through it.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/processes.js';
import { builtStreamer } from '../support/streamer.js';

describe('WebRTC behind a firewall that drops UDP', () => {
  it('goes through the TURN server with the credentials the agent issued', { timeout: 120_000 }, () => {
    builtStreamer();
    const child = spawnSync('unshare', ['-n', process.execPath, '--import', 'tsx', 'test/support/turn-only.ts'], { cwd: repoRoot, encoding: 'utf8', timeout: 110_000 });
    expect(child.status, child.stderr).toBe(0);
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
    expect(r.directUdpArrived).toBe(false); // the rule holds: no UDP between ordinary ports
    const [server] = r.iceServers as Array<{ urls: string[]; username: string; credential: string }>;
    expect(server!.urls).toEqual(['turn:127.0.0.1:3479?transport=udp']);
    expect(server!.username).toMatch(/^\d{10}:s-[a-z2-7]{10}\.alice$/); // <expiry>:<session>.<user>
    expect(Number(server!.username.split(':')[0]) * 1000).toBeGreaterThan(Date.now()); // short-lived, not yet expired
    expect(r.relayed.framesDecoded, JSON.stringify(r.relayed)).toBeGreaterThanOrEqual(3);
    expect(r.relayed.path).toMatch(/^relay->/);
  });
});
