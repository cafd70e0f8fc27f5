/**
 * WebRTC where UDP between viewer and desktop is blocked: inside a network namespace of its own
 * (`unshare -n`), an nftables rule drops every UDP packet that is not to or from the TURN server
 * (Debian's coturn, REST-API credentials from the agent). A datagram between two ordinary ports must not
 * arrive; a receiver using the agent's TURN credentials (relay only) must get the desktop through the relay. Prints one JSON line with what it saw.
 *   unshare -n node --import tsx test/support/turn-only.ts
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { routes } from '../../cluster-agent/contract/index.js';
import { call, startTestAgent } from '../agent/support.js';
import { launchChromium } from './browser.js';
import { tempDir, waitFor } from './processes.js';
import { installReceiver, receiverStats, type ReceiverStats } from './webrtc-page.js';

const TURN_PORT = 3479;
const RELAY_PORTS = '20000-20100'; // below the ephemeral range, so the rule can tell relay traffic apart
const SECRET = 'turn-shared-secret-for-the-test';
const children: ChildProcess[] = [];
const profile = tempDir('turn-chromium');

/** Does a datagram between two ephemeral ports on loopback get through? */
async function udpArrives(): Promise<boolean> {
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  await Promise.all([new Promise<void>((r) => a.bind(0, '127.0.0.1', r)), new Promise<void>((r) => b.bind(0, '127.0.0.1', r))]);
  const got = new Promise<boolean>((r) => {
    b.once('message', () => r(true));
    setTimeout(() => r(false), 500);
  });
  a.send('ping', b.address().port, '127.0.0.1');
  const arrived = await got;
  a.close();
  b.close();
  return arrived;
}

async function main(): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('nft', ['-f', '-'], {
    input: `table inet porthole {
  chain out {
    type filter hook output priority 0; policy accept;
    udp sport { ${TURN_PORT}, ${RELAY_PORTS} } accept
    udp dport { ${TURN_PORT}, ${RELAY_PORTS} } accept
    meta l4proto udp drop
  }
}`,
  });
  const turn = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', `--listening-port=${TURN_PORT}`, '--relay-ip=127.0.0.1', '--min-port=20000', '--max-port=20100', '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=porthole.test', '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint', '--log-file=stdout', '--simple-log'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(turn);
  const turnLog: string[] = [];
  turn.stdout!.on('data', (d: Buffer) => turnLog.push(...d.toString().trim().split('\n')));
  await waitFor('coturn listening', () => turnLog.some((l) => /listener opened|Total General servers|IPv4. UDP listener/i.test(l)) || undefined, 10_000, 50);

  const t = await startTestAgent({ alice: { password: 'pw' } }, { webrtc: true, ice: { stun: [], turn: { urls: [`turn:127.0.0.1:${TURN_PORT}?transport=udp`], secret: SECRET, ttlSeconds: 600 } } });
  const result: { directUdpArrived?: boolean; relayed?: ReceiverStats; iceServers?: unknown; turnAllocations?: number; streamerLog?: string[] } = {};
  const browser = await launchChromium(join(profile.path, 'chromium'));
  try {
    const token = (await call(t.agent.url, 'POST', routes.login, { json: { username: 'alice', password: 'pw' } })).body.accessToken as string;
    const id = (await call(t.agent.url, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id as string;
    await waitFor('Running', async () => (await call(t.agent.url, 'GET', routes.session(id), { token })).body.phase === 'Running' || undefined, 30_000);
    await browser.grantPermissions(['camera', 'microphone'], { origin: t.agent.url });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await installReceiver(page, t.agent.url);

    // The rule works: UDP between two ordinary ports does not arrive.
    result.directUdpArrived = await udpArrives();

    // With the agent's TURN credentials, relay only.
    const connect = (await call(t.agent.url, 'POST', routes.connect(id), { token })).body;
    result.iceServers = connect.webrtc.iceServers;
    await page.evaluate(`window.receiver.start(${JSON.stringify(connect.webrtc.url)}, 'H264', ${JSON.stringify({ iceServers: connect.webrtc.iceServers, relayOnly: true })})`);
    result.relayed = await waitFor('frames through the relay', async () => {
      const s = await receiverStats(page);
      return (s.framesDecoded ?? 0) >= 3 ? s : undefined;
    }, 20_000, 250).catch(async () => receiverStats(page));
    await page.evaluate('window.receiver.stop()');
    result.turnAllocations = turnLog.filter((l) => /allocation|ALLOCATE/i.test(l)).length;
    const runs = readdirSync(join(t.dir.path, 'local', 'run'));
    result.streamerLog = runs.flatMap((r) => readFileSync(join(t.dir.path, 'local', 'run', r, 'streamer.log'), 'utf8').trim().split('\n')).slice(-15);
  } finally {
    await browser.close();
    await t.cleanup();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGKILL');
    profile.remove();
    setTimeout(() => process.exit(), 200).unref();
  });
