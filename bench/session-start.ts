/**
 * Cold start: time from `POST /sessions` to the first framebuffer update through the agent's gateway,
 * for fresh `terminal` desktops on this machine (each iteration is a new user, so start-or-get always
 * creates). Uses the real agent CLI, real Xvnc, and the same small RFB client as the tests.
 */
import { join } from 'node:path';
import { ConnectResponse, routes, Session } from '../cluster-agent/contract/index.js';
import { login, stopAllSessions } from '../test/support/agent-api.js';
import { runCli, startCli, stopProcess, tempDir } from '../test/support/processes.js';
import { distinctColours, RfbClient } from '../test/support/rfb-client.js';
import { percentile, printResult, printTable, round } from './stats.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 8);
const PASSWORD = 'bench-password';

async function api<T>(agentUrl: string, token: string, path: string, parse: (v: unknown) => T, init: RequestInit = {}): Promise<T> {
  const res = await fetch(new URL(path, agentUrl), {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return parse(await res.json());
}

async function main(): Promise<void> {
  const data = tempDir('bench-start');
  const usersFile = join(data.path, 'users.yaml');
  const users = Array.from({ length: ITERATIONS }, (_, i) => `bench${i}`);
  for (const u of users) await runCli('cluster-agent/agent/cli.ts', ['users', 'add', u, '--file', usersFile, '--password-stdin'], PASSWORD);
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', data.path], /^listening on (\S+)/);
  const agentUrl = agent.match[1]!;
  const rows: { run: number; running_ms: number; first_frame_ms: number; colours: number }[] = [];
  try {
    for (const [i, user] of users.entries()) {
      const token = await login(agentUrl, user, PASSWORD);
      const t0 = performance.now();
      let session = await api(agentUrl, token, routes.sessions, (v) => Session.parse(v), { method: 'POST', body: JSON.stringify({ template: 'terminal' }) });
      while (session.phase !== 'Running') {
        if (session.phase === 'Failed') throw new Error(`session failed: ${session.message}`);
        await new Promise((r) => setTimeout(r, 20));
        session = await api(agentUrl, token, routes.session(session.id), (v) => Session.parse(v));
      }
      const tRunning = performance.now();
      const connect = await api(agentUrl, token, routes.connect(session.id), (v) => ConnectResponse.parse(v), { method: 'POST', body: '{}' });
      const rfb = await RfbClient.connect({ kind: 'ws', url: connect.vnc.url });
      rfb.requestUpdate(false);
      const update = await rfb.nextUpdate(true);
      const tFrame = performance.now();
      rfb.close();
      rows.push({ run: i + 1, running_ms: round(tRunning - t0), first_frame_ms: round(tFrame - t0), colours: distinctColours(update) });
      await stopAllSessions(agentUrl, user, PASSWORD);
    }
  } finally {
    for (const u of users) await stopAllSessions(agentUrl, u, PASSWORD).catch(() => undefined);
    await stopProcess(agent.child);
    data.remove();
  }
  printTable(`Cold start of a terminal desktop (POST /sessions -> first framebuffer update via the gateway), ${ITERATIONS} runs`, rows);
  const frames = rows.map((r) => r.first_frame_ms);
  const running = rows.map((r) => r.running_ms);
  const summary = {
    benchmark: 'session-start',
    runs: rows.length,
    first_frame_ms: { min: Math.min(...frames), p50: percentile(frames, 50), max: Math.max(...frames) },
    running_ms: { min: Math.min(...running), p50: percentile(running, 50), max: Math.max(...running) },
  };
  printTable('Summary (ms)', [
    { measure: 'create -> Running', min: summary.running_ms.min, p50: summary.running_ms.p50, max: summary.running_ms.max },
    { measure: 'create -> first frame', min: summary.first_frame_ms.min, p50: summary.first_frame_ms.p50, max: summary.first_frame_ms.max },
  ]);
  printResult(summary);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
