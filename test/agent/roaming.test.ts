/**
 * Roaming: one person's desktop shows on one device at a time. A real agent with a real desktop;
 * devices are launchers naming themselves in POST connect. Opening the desktop on device B (the
 * person asking: takeOver) ends device A's stream with the sentence; A's automatic reconnect is
 * refused (409 opened_elsewhere) instead of taking it back; A taking over again works the same way.
 * Clients that name no device are left alone, and a bad device id is a 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENED_ELSEWHERE_CLOSE, routes } from '../../cluster-agent/contract/index.js';
import { waitFor } from '../support/processes.js';
import { RfbClient } from '../support/rfb-client.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent;
let base: string;
let token: string;
let id: string;
const A = 'device-aaaaaaaa';
const B = 'device-bbbbbbbb';

beforeAll(async () => {
  t = await startTestAgent({ rita: { password: 'pw' } });
  base = t.agent.url;
  token = (await call(base, 'POST', routes.login, { json: { username: 'rita', password: 'pw' } })).body.accessToken;
  id = (await call(base, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id;
  await waitFor('Running', async () => (await call(base, 'GET', routes.session(id), { token })).body.phase === 'Running' || undefined, 40_000);
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
});

const connect = (json?: unknown) => call(base, 'POST', routes.connect(id), { token, ...(json === undefined ? {} : { json }) });
const ended = (viewer: RfbClient) => viewer.nextUpdate().then(() => 'still open', (e: Error) => e.message);

describe('roaming between devices', () => {
  it('opening the desktop on another device ends the first one with the sentence, and the first does not take it back by itself', async () => {
    const onA = await RfbClient.connect({ kind: 'ws', url: (await connect({ device: A, takeOver: true })).body.vnc.url });
    // A tool that names no device watches too, and is never ended by a takeover.
    const tool = await RfbClient.connect({ kind: 'ws', url: (await connect()).body.vnc.url });
    const aEnded = ended(onA);

    // B reconnecting by itself while A shows it: refused, so the two never trade it back and forth.
    const refused = await connect({ device: B });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: { code: 'conflict', reason: 'opened_elsewhere', message: 'You opened this desktop on another device. Ask again with takeOver to open it here.' } });

    // The person opens it on B: A's stream ends, saying why.
    const onB = await RfbClient.connect({ kind: 'ws', url: (await connect({ device: B, takeOver: true })).body.vnc.url });
    expect(await aEnded).toBe(`WebSocket closed ${OPENED_ELSEWHERE_CLOSE} You opened this desktop on another device.`);
    expect(onB.init).toMatchObject({ width: 1280, height: 800 });

    // A's automatic reconnect is refused; the same device may reconnect freely.
    expect((await connect({ device: A })).body.error.reason).toBe('opened_elsewhere');
    expect((await connect({ device: B })).status).toBe(200);

    // The tool was left alone.
    await tool.requestUpdate(false);
    expect(await Promise.race([tool.nextUpdate().then(() => 'update'), new Promise((r) => setTimeout(() => r('timeout'), 5_000))])).toBe('update');

    // Taking it back on A works the same way.
    const bEnded = ended(onB);
    const back = await RfbClient.connect({ kind: 'ws', url: (await connect({ device: A, takeOver: true })).body.vnc.url });
    expect(await bEnded).toMatch(new RegExp(`^WebSocket closed ${OPENED_ELSEWHERE_CLOSE} `));
    back.close();
    tool.close();
    // Once nobody shows it, any device may connect without taking over.
    await waitFor('streams closed', async () => ((await connect({ device: B })).status === 200 ? true : undefined), 5_000);
  }, 60_000);

  it('refuses a device id that is not one, in the contract shape', async () => {
    const bad = await connect({ device: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
    expect(bad.body.error.message).toMatch(/device/);
  });
});
