/** /readyz asks the runtime's optional healthy(): a replica whose runtime says it is stale is not ready. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
beforeAll(async () => {
  t = await startTestAgent({ alice: { password: 'alice-pw' } });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('/readyz', () => {
  it("is 503 with the runtime's sentence while the runtime reports itself unhealthy, 200 again after", async () => {
    let health = { ok: false, message: 'the sessions watch has failed for 20 s (connection refused)' };
    Object.assign(t.runtime, { healthy: () => health });
    const bad = await fetch(`${t.agent.url}/readyz`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toEqual({ status: 'not_ready', checks: { runtime: 'local: the sessions watch has failed for 20 s (connection refused)' } });
    health = { ok: true, message: 'ready' };
    expect((await fetch(`${t.agent.url}/readyz`)).status).toBe(200);
  });
});
