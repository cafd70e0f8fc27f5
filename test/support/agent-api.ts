/** A few direct calls to the agent's v1 API for test set-up and clean-up (the app uses main/core). */
import { routes, Session, SessionList, TokenResponse } from '../../cluster-agent/contract/index.js';

export async function login(agentUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(new URL(routes.login, agentUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login as ${username} failed: ${res.status} ${await res.text()}`);
  return TokenResponse.parse(await res.json()).accessToken;
}

export async function getSession(agentUrl: string, token: string, id: string): Promise<Session | undefined> {
  const res = await fetch(new URL(routes.session(id), agentUrl), { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET session ${id}: ${res.status}`);
  return Session.parse(await res.json());
}

/** Ends every live session of the user, so a test leaves no desktop running. */
export async function stopAllSessions(agentUrl: string, username: string, password: string): Promise<void> {
  const token = await login(agentUrl, username, password);
  const res = await fetch(new URL(routes.sessions, agentUrl), { headers: { authorization: `Bearer ${token}` } });
  const { sessions } = SessionList.parse(await res.json());
  for (const s of sessions) {
    if (s.phase === 'Stopped' || s.phase === 'Failed') continue;
    await fetch(new URL(routes.session(s.id), agentUrl), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }
  // Until they are down: a desktop outlives its agent (adoption), so one still stopping when the
  // caller stops the agent would run on after the test.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const now = SessionList.parse(await (await fetch(new URL(routes.sessions, agentUrl), { headers: { authorization: `Bearer ${token}` } })).json());
    if (now.sessions.every((s) => s.phase === 'Stopped' || s.phase === 'Failed')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
