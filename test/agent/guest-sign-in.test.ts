/**
 * Guest sign-in for kiosks: off unless configured; then a new guest each time, offered on
 * /auth/providers, who sees and may start only the guest templates; a refresh keeps the guest; an
 * agent without it answers 404 with a sentence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let withGuests: TestAgent;
let without: TestAgent;

beforeAll(async () => {
  withGuests = await startTestAgent({ staff: { password: 'staff-pw' } }, { guest: { templates: ['terminal'] } });
  without = await startTestAgent({});
}, 60_000);

afterAll(async () => {
  await withGuests?.cleanup();
  await without?.cleanup();
});

describe('guest sign-in', () => {
  it('is offered when configured, makes a new guest each time, who sees and starts only the guest templates', async () => {
    const url = withGuests.agent.url;
    expect((await call(url, 'GET', routes.providers)).body).toEqual({ password: true, guest: true });
    const a = await call(url, 'POST', routes.guestLogin);
    const b = await call(url, 'POST', routes.guestLogin);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.user.name).toMatch(/^guest-[0-9a-f]{10}$/);
    expect(a.body.user.name).not.toBe(b.body.user.name);
    const token = a.body.accessToken;
    const all = (await call(url, 'GET', routes.templates, { token })).body.templates.map((t: { name: string }) => t.name);
    expect(all).toEqual(['terminal']);
    const staff = await call(url, 'POST', routes.login, { json: { username: 'staff', password: 'staff-pw' } });
    const staffTemplates = (await call(url, 'GET', routes.templates, { token: staff.body.accessToken })).body.templates.map((t: { name: string }) => t.name);
    expect(staffTemplates.length).toBeGreaterThan(1);
    const other = staffTemplates.find((n: string) => n !== 'terminal')!;
    const refused = await call(url, 'POST', routes.sessions, { token, json: { template: other } });
    expect(refused.status).toBe(403);
    const refreshed = await call(url, 'POST', routes.refresh, { json: { refreshToken: a.body.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user.name).toBe(a.body.user.name);
  });

  it('is not there unless configured', async () => {
    expect((await call(without.agent.url, 'GET', routes.providers)).body).toEqual({ password: true });
    const r = await call(without.agent.url, 'POST', routes.guestLogin);
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/does not offer a guest sign-in/);
  });
});
