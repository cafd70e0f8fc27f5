/**
 * Gateway throughput and added latency, in one run, on real parts:
 *   direct-unix   the session's own Xvnc socket (what the agent itself dials)
 *   gateway       the agent's WebSocket gateway to that same Xvnc (connect token, agent does VncAuth)
 *   websockify    Debian's websockify (--unix-target) to that same Xvnc
 *   direct-tcp    a reference Xvnc of the same size on 127.0.0.1 TCP
 * Every path is measured with the same RFB client (test/support/rfb-client.ts).
 * Throughput on two cores swings by half between runs (the client, the relay and Xvnc share them), so the
 * gateway and websockify are then measured again, alternating, BENCH_PAIRS times: the ratio reported is the
 * median of those pairs' ratios, each pair measured within a second of each other.
 * Env: BENCH_ROUNDS (300), BENCH_FRAMES (40), BENCH_PAIRS (7), BENCH_PROF_DIR (a CPU profile of the agent there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ConnectResponse, routes } from '../cluster-agent/contract/index.js';
import { vncPasswordFile } from '../cluster-agent/vnc/des.js';
import { stopAllSessions } from '../test/support/agent-api.js';
import { runCli, startCli, stopProcess, tempDir, waitFor } from '../test/support/processes.js';
import { runningDesktop } from './local-desktop.js';
import { measurePath, type PathFigures } from './rfb-measure.js';
import { percentile, printResult, printTable, round } from './stats.js';
import { writeFileSync } from 'node:fs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 40);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 7);
const PASSWORD = 'bench-password';

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), ok(true)));
    s.once('error', () => ok(false));
  });
}

async function main(): Promise<void> {
  const data = tempDir('bench-gw');
  const usersFile = join(data.path, 'users.yaml');
  await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'bench', '--file', usersFile, '--password-stdin'], PASSWORD);
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', data.path], /^listening on (\S+)/, 30_000, process.env.BENCH_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF_DIR] : []);
  const agentUrl = agent.match[1]!;
  const extra: ChildProcess[] = [];
  try {
    const created = await runningDesktop(agentUrl, data.path, 'bench', PASSWORD);
    // The session's own socket and secret, as the local runtime keeps them (0600, same OS user).
    const { runDir, auth } = created;
    const socket = join(runDir, 'vnc', 'vnc.sock'); // the display sandbox's socket dir (docs/local-runtime.md)
    const secret = readFileSync(join(runDir, 'vnc.password'), 'utf8');

    const wsPort = await freePort();
    const websockify = spawn('websockify', ['--unix-target', socket, `127.0.0.1:${wsPort}`], { stdio: 'ignore' });
    extra.push(websockify);

    const tcpPort = await freePort();
    const refPasswd = join(data.path, 'ref.passwd');
    writeFileSync(refPasswd, vncPasswordFile(secret), { mode: 0o600 });
    const display = 90 + (process.pid % 100);
    const ref = spawn('Xvnc', [`:${display}`, '-geometry', '1280x800', '-depth', '24', '-rfbport', String(tcpPort), '-localhost', '-interface', '127.0.0.1', '-SecurityTypes', 'VncAuth', '-PasswordFile', refPasswd, '-nolisten', 'tcp', '-AlwaysShared'], { stdio: 'ignore' });
    extra.push(ref);
    await waitFor('websockify and the reference Xvnc to listen', async () => (await canConnect(wsPort)) && (await canConnect(tcpPort)), 15_000, 100);

    const connect = async () => ConnectResponse.parse(await (await fetch(new URL(routes.connect(created.id), agentUrl), { method: 'POST', headers: auth, body: '{}' })).json());
    const results: PathFigures[] = [];
    results.push(await measurePath('direct-tcp (reference Xvnc)', { kind: 'tcp', host: '127.0.0.1', port: tcpPort }, secret, ROUNDS, FRAMES));
    results.push(await measurePath('direct-unix (session Xvnc)', { kind: 'unix', path: socket }, secret, ROUNDS, FRAMES));
    results.push(await measurePath('porthole gateway (WS)', { kind: 'ws', url: (await connect()).vnc.url }, undefined, ROUNDS, FRAMES));
    results.push(await measurePath('websockify 0.10 (WS)', { kind: 'ws', url: `ws://127.0.0.1:${wsPort}/` }, secret, ROUNDS, FRAMES));

    printTable(`RFB paths to a 1280x800 desktop: ${ROUNDS} round trips (1x1 update), ${FRAMES} full Raw frames (4.1 MB each)`, results.map((r) => ({ ...r })));
    const [tcp, unix, gateway, wsfy] = results as [PathFigures, PathFigures, PathFigures, PathFigures];

    // Throughput again, gateway and websockify alternating (who goes first alternates too).
    const pairs: Array<{ gateway_MBps: number; websockify_MBps: number; ratio: number }> = [];
    for (let i = 0; i < PAIRS; i++) {
      const viaGateway = async () => (await measurePath('gateway', { kind: 'ws', url: (await connect()).vnc.url }, undefined, 0, FRAMES)).throughput_MBps;
      const viaWebsockify = async () => (await measurePath('websockify', { kind: 'ws', url: `ws://127.0.0.1:${wsPort}/` }, secret, 0, FRAMES)).throughput_MBps;
      let g: number, w: number;
      if (i % 2 === 0) {
        g = await viaGateway();
        w = await viaWebsockify();
      } else {
        w = await viaWebsockify();
        g = await viaGateway();
      }
      pairs.push({ gateway_MBps: g, websockify_MBps: w, ratio: round(g / w, 2) });
    }
    printTable(`Throughput, gateway and websockify alternating, ${PAIRS} pairs of ${FRAMES} frames`, pairs);
    const pairRatios = pairs.map((p) => p.ratio);
    const summary = {
      benchmark: 'gateway',
      rounds: ROUNDS,
      frames: FRAMES,
      paths: results,
      gateway_added_p50_ms_vs_direct_unix: round(gateway.rtt_p50_ms - unix.rtt_p50_ms, 3),
      gateway_added_p50_ms_vs_direct_tcp: round(gateway.rtt_p50_ms - tcp.rtt_p50_ms, 3),
      websockify_added_p50_ms_vs_direct_unix: round(wsfy.rtt_p50_ms - unix.rtt_p50_ms, 3),
      gateway_throughput_vs_websockify: round(gateway.throughput_MBps / wsfy.throughput_MBps, 2),
      throughput_pairs: pairs,
      gateway_throughput_vs_websockify_median_of_pairs: round(percentile(pairRatios, 50), 2),
      gateway_throughput_vs_websockify_pair_range: [Math.min(...pairRatios), Math.max(...pairRatios)],
      gateway_throughput_vs_direct_unix: round(gateway.throughput_MBps / unix.throughput_MBps, 2),
    };
    printTable('Gateway compared', [
      { measure: 'added p50 latency vs direct unix (ms)', gateway: summary.gateway_added_p50_ms_vs_direct_unix, websockify: summary.websockify_added_p50_ms_vs_direct_unix },
      { measure: 'throughput vs direct unix', gateway: summary.gateway_throughput_vs_direct_unix, websockify: round(wsfy.throughput_MBps / unix.throughput_MBps, 2) },
    ]);
    printResult(summary);
  } finally {
    for (const p of extra) await stopProcess(p);
    await stopAllSessions(agentUrl, 'bench', PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
