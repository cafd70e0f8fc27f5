/** Helpers for the agent tests: an in-process agent on the real local runtime, HTTP and WebSocket calls. */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { startAgent, type AgentOptions, type RunningAgent } from '../../cluster-agent/agent/agent.js';
import { upsertUser } from '../../cluster-agent/identity/users-file.js';
import { LocalRuntime } from '../../cluster-agent/runtime/local/index.js';
import { tempDir } from '../support/processes.js';
import { builtStreamer } from '../support/streamer.js';

export interface TestAgent {
  agent: RunningAgent;
  runtime: LocalRuntime;
  dir: ReturnType<typeof tempDir>;
  usersFile: string;
  /** stops every desktop this agent started, closes it, removes its temp dir */
  cleanup: () => Promise<void>;
}

export interface TestAgentOptions extends Partial<AgentOptions> {
  /** reuse a data dir (a restarted agent); its cleanup then leaves the dir to the first agent */
  dir?: ReturnType<typeof tempDir>;
  /** access lists an administrator put on templates (the local runtime has none of its own) */
  restrict?: Record<string, { allowedUsers?: string[]; allowedGroups?: string[]; requireEnrolledDevice?: boolean }>;
  /** desktops with the WebRTC streamer (dist/streamer, built if missing); `codecs` as `serve --streamer-codecs` */
  webrtc?: boolean | { codecs: string[] };
}

/** The local runtime with template access lists added, as an administrator would configure them. */
class RestrictedLocalRuntime extends LocalRuntime {
  constructor(
    opts: ConstructorParameters<typeof LocalRuntime>[0],
    private readonly restrict: NonNullable<TestAgentOptions['restrict']>,
  ) {
    super(opts);
  }
  override async templates() {
    return (await super.templates()).map((t) => ({ ...t, ...this.restrict[t.name] }));
  }
}

export async function startTestAgent(users: Record<string, { password: string; groups?: string[] }>, options: TestAgentOptions = {}): Promise<TestAgent> {
  const { dir: reuse, restrict, webrtc, ...extra } = options;
  const dir = reuse ?? tempDir('agent');
  const usersFile = join(dir.path, 'users.yaml');
  for (const [name, u] of Object.entries(users)) await upsertUser(usersFile, name, u.password, u.groups ?? []);
  const runtimeOptions = { dataDir: join(dir.path, 'local'), startTimeoutMs: 30_000, stopGraceMs: 1_000, ...(webrtc ? { streamer: { ...builtStreamer(), ...(typeof webrtc === 'object' ? { codecs: webrtc.codecs } : {}) } } : {}) };
  const runtime = restrict ? new RestrictedLocalRuntime(runtimeOptions, restrict) : new LocalRuntime(runtimeOptions);
  const agent = await startAgent({
    runtime,
    dataDir: join(dir.path, 'agent'),
    usersFile,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: process.env.PORTHOLE_TEST_LOG ?? 'silent' }),
    defaultMetrics: false,
    ...extra,
  });
  return {
    agent,
    runtime,
    dir,
    usersFile,
    cleanup: async () => {
      for (const s of await runtime.list()) await runtime.stop(s.id, 'test over').catch(() => undefined);
      await agent.close();
      if (!reuse) dir.remove();
    },
  };
}

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

export async function call(base: string, method: string, path: string, opts: { token?: string; json?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (opts.raw !== undefined) body = opts.raw;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export type WsOutcome =
  /** `texts`: every text frame received, from the moment of opening (none is missed) */
  | { kind: 'open'; ws: WebSocket; protocol: string; texts: string[] }
  | { kind: 'http'; status: number; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any
  | { kind: 'error'; error: Error };

/** Opens a WebSocket and reports either the open socket or the HTTP answer that refused the upgrade. */
export function openWs(url: string, protocols: string[] = ['binary']): Promise<WsOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    const texts: string[] = [];
    ws.on('message', (data, isBinary) => {
      if (!isBinary) texts.push(data.toString());
    });
    ws.once('open', () => resolve({ kind: 'open', ws, protocol: ws.protocol, texts }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ kind: 'http', status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    ws.once('error', (error) => resolve({ kind: 'error', error }));
  });
}

export function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** A pino logger whose JSON lines the test can read (what an operator would see in the agent's log). */
export function captureLogger(level = 'info'): { logger: pino.Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    logger: pino({ level }, stream),
    text,
    lines: () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
