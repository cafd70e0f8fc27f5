/**
 * The `local` runtime: real Xvnc desktops as processes on this machine (the embedded default).
 * See docs/local-runtime.md.
 */
import type { Logger } from 'pino';
import type { Runtime } from '../types.js';
import { LocalRuntime, type LocalRuntimeOptions } from './runtime.js';

export { LocalRuntime, type LocalRuntimeOptions } from './runtime.js';

/** Creates the runtime and runs init() (adopts desktops still running). Call close() on shutdown. */
export async function createLocalRuntime(opts: { dataDir: string; logger?: Logger; startTimeoutMs?: number } & Partial<LocalRuntimeOptions>): Promise<Runtime> {
  const runtime = new LocalRuntime(opts);
  await runtime.init();
  return runtime;
}
