/**
 * Cold start: time from `POST /sessions` to the first framebuffer update through the agent's gateway,
 * for fresh `terminal` desktops on this machine (each iteration is a new user, so start-or-get always
 * creates). Uses the real agent CLI, real Xvnc, and the same small RFB client as the tests. Sandboxed
 * desktops (the default) and unsandboxed ones (--unsafe-shared-desktops) alternate in one run.
 */
import { join } from 'node:path';
import { login, stopAllSessions } from '../test/support/agent-api.js';
import { runCli, startCli, stopProcess, tempDir } from '../test/support/processes.js';
import { timeStart } from './session-timing.js';
import { percentile, printResult, printTable, round } from './stats.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 8);
const PASSWORD = 'bench-password';

type Row = {
  isolation: string;
  run: number;
  running_ms: number;
  first_frame_ms: number;
  colours: number;
};

async function startAgent(name: string, users: string[], extra: string[]) {
  const data = tempDir(`bench-start-${name}`);
  const usersFile = join(data.path, 'users.yaml');
  for (const u of users) await runCli('cluster-agent/agent/cli.ts', ['users', 'add', u, '--file', usersFile, '--password-stdin'], PASSWORD);
  const cli = await startCli('cluster-agent/agent/cli.ts', ['serve', '--runtime', 'local', '--listen', '127.0.0.1:0', '--users', usersFile, '--data-dir', data.path, ...extra], /^listening on (\S+)/);
  return { name, url: cli.match[1]!, cli, data };
}

/** One cold start: POST /sessions, poll until Running, connect, first framebuffer update. */
async function coldStart(agentUrl: string, user: string): Promise<Omit<Row, 'isolation' | 'run'>> {
  const token = await login(agentUrl, user, PASSWORD);
  const { running_ms, first_frame_ms, colours } = await timeStart(agentUrl, token, 'terminal');
  await stopAllSessions(agentUrl, user, PASSWORD);
  return { running_ms, first_frame_ms, colours };
}

function summarise(rows: Row[]) {
  const frames = rows.map((r) => r.first_frame_ms);
  const running = rows.map((r) => r.running_ms);
  return {
    first_frame_ms: { min: Math.min(...frames), p50: percentile(frames, 50), max: Math.max(...frames) },
    running_ms: { min: Math.min(...running), p50: percentile(running, 50), max: Math.max(...running) },
  };
}

async function main(): Promise<void> {
  const users = Array.from({ length: ITERATIONS }, (_, i) => `bench${i}`);
  // The same machine, the same run: sandboxed desktops (the default) and --unsafe-shared-desktops,
  // alternating, so what the sandbox costs is not hidden by the machine's load changing.
  const agents = [await startAgent('sandbox', users, []), await startAgent('shared', users, ['--unsafe-shared-desktops'])];
  const rows: Row[] = [];
  try {
    for (const [i, user] of users.entries()) {
      for (const agent of agents) rows.push({ isolation: agent.name, run: i + 1, ...(await coldStart(agent.url, user)) });
    }
  } finally {
    for (const agent of agents) {
      for (const u of users) await stopAllSessions(agent.url, u, PASSWORD).catch(() => undefined);
      await stopProcess(agent.cli.child);
      agent.data.remove();
    }
  }
  printTable(`Cold start of a terminal desktop (POST /sessions -> first framebuffer update via the gateway), ${ITERATIONS} runs each`, rows);
  const sandbox = summarise(rows.filter((r) => r.isolation === 'sandbox'));
  const shared = summarise(rows.filter((r) => r.isolation === 'shared'));
  printTable('Summary (ms)', [
    { isolation: 'sandbox', measure: 'create -> Running', min: sandbox.running_ms.min, p50: sandbox.running_ms.p50, max: sandbox.running_ms.max },
    { isolation: 'sandbox', measure: 'create -> first frame', min: sandbox.first_frame_ms.min, p50: sandbox.first_frame_ms.p50, max: sandbox.first_frame_ms.max },
    { isolation: 'shared', measure: 'create -> Running', min: shared.running_ms.min, p50: shared.running_ms.p50, max: shared.running_ms.max },
    { isolation: 'shared', measure: 'create -> first frame', min: shared.first_frame_ms.min, p50: shared.first_frame_ms.p50, max: shared.first_frame_ms.max },
  ]);
  printResult({
    benchmark: 'session-start',
    runs: ITERATIONS,
    ...sandbox,
    shared,
    sandbox_cost_p50_ms: round(sandbox.first_frame_ms.p50 - shared.first_frame_ms.p50),
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
