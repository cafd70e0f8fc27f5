/**
 * The data dir turns unwritable while desktops run (as a read-only remount or a full disk would): the
 * agent keeps serving, /readyz says why, starts and stops answer 503 with a sentence and leave nothing
 * half-made, and once the disk takes writes again everything proceeds without a restart.
 * The fault is real: the directory is made immutable (chattr +i), which even root cannot write through.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { isOurs } from '../../cluster-agent/runtime/local/processes.js';
import { waitFor } from '../support/processes.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let t: TestAgent | undefined;
let frozen: string | undefined;

const chattr = (flag: '+i' | '-i', dir: string) => execFileSync('chattr', [flag, dir], { stdio: 'pipe' });

afterAll(async () => {
  if (frozen) chattr('-i', frozen);
  await t?.cleanup();
});

describe('an unwritable data dir', () => {
  it('is survived: readyz says why, starts and stops answer 503 and change nothing, and all resumes once it is writable', async () => {
    t = await startTestAgent({ alice: { password: 'pw-a' }, bob: { password: 'pw-b' } });
    const base = t.agent.url;
    const login = async (u: string, p: string) => (await call(base, 'POST', routes.login, { json: { username: u, password: p } })).body.accessToken as string;
    const alice = await login('alice', 'pw-a');
    const bob = await login('bob', 'pw-b');
    const start = async (token: string) => (await call(base, 'POST', routes.sessions, { token, json: { template: 'terminal' } })).body.id as string;
    const phase = async (token: string, id: string) => (await call(base, 'GET', routes.session(id), { token })).body;
    const running = (token: string, id: string) => waitFor(`${id} Running`, async () => (await phase(token, id)).phase === 'Running' || undefined, 30_000);
    const a = await start(alice);
    const b = await start(bob);
    await running(alice, a);
    await running(bob, b);

    const stateDir = join(t.dir.path, 'local');
    const state = () => JSON.parse(readFileSync(join(stateDir, 'local-sessions.json'), 'utf8')) as { sessions: Array<{ session: { id: string; phase: string }; processes: { display: { pid: number } } }> };
    const recordOf = (id: string) => state().sessions.find((r) => r.session.id === id)!;
    chattr('+i', stateDir);
    frozen = stateDir;

    // Alice's display server dies while nothing can be written: noticed, not fatal.
    process.kill(recordOf(a).processes.display.pid, 'SIGKILL');
    await waitFor('alice Failed', async () => (await phase(alice, a)).phase === 'Failed' || undefined, 5_000);
    const ready = await call(base, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.runtime).toMatch(/cannot write to its data directory \(EPERM.*starting and stopping desktops waits until it can/);

    // A start creates nothing; a stop leaves the desktop as it was.
    const refused = await call(base, 'POST', routes.sessions, { token: alice, json: { template: 'terminal' } });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/cannot write to its data directory/) });
    expect((await call(base, 'GET', routes.sessions, { token: alice })).body.sessions.filter((s: { phase: string }) => s.phase !== 'Failed')).toEqual([]);
    const stop = await call(base, 'DELETE', routes.session(b), { token: bob });
    expect(stop.status).toBe(503);
    expect(stop.body.error.message).toMatch(/Desktops that are running keep running/);
    expect((await phase(bob, b)).phase).toBe('Running');
    expect(isOurs(recordOf(b).processes.display as never)).toBe(true);

    // The disk takes writes again: no restart needed.
    chattr('-i', stateDir);
    frozen = undefined;
    await waitFor('ready again', async () => (await call(base, 'GET', '/readyz')).status === 200 || undefined, 5_000, 100);
    expect(recordOf(a).session.phase).toBe('Failed'); // what happened meanwhile was recorded
    const again = await start(alice);
    await running(alice, again);
    expect((await call(base, 'DELETE', routes.session(b), { token: bob })).status).toBe(202);
    await waitFor('bob Stopped', async () => (await phase(bob, b)).phase === 'Stopped' || undefined, 10_000);
  });
});
