/** The runtime conformance suite on the local runtime: real Xvnc desktops in real sandboxes. */
import { afterAll } from 'vitest';
import { createLocalRuntime } from '../../cluster-agent/runtime/local/index.js';
import type { Runtime } from '../../cluster-agent/runtime/types.js';
import { tempDir } from '../support/processes.js';
import { describeRuntimeConformance } from '../support/runtime-conformance.js';

const dir = tempDir('conformance');
let runtime: Runtime | undefined;
let users = 0;

afterAll(async () => {
  if (runtime) {
    for (const s of await runtime.list()) await runtime.stop(s.id).catch(() => undefined);
    await runtime.close();
  }
  dir.remove();
});

describeRuntimeConformance('local', async () => {
  runtime ??= await createLocalRuntime({ dataDir: dir.path, startTimeoutMs: 20_000, stopGraceMs: 1_000 });
  return { runtime, template: 'terminal', user: () => `conf${users++}`, startTimeoutMs: 20_000 };
});
