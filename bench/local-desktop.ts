/**
 * A running desktop for a benchmark on the local runtime: created through the agent's API, waited for
 * until Running, and its run dir (where its sockets and secrets are) read from the runtime's state file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { routes, Session } from '../cluster-agent/contract/index.js';
import { login } from '../test/support/agent-api.js';
import { waitFor } from '../test/support/processes.js';

export interface LocalDesktop {
  id: string;
  runDir: string;
  /** headers for further API calls as that user */
  auth: Record<string, string>;
}

export async function runningDesktop(agentUrl: string, dataDir: string, user: string, password: string, template = 'terminal'): Promise<LocalDesktop> {
  const token = await login(agentUrl, user, password);
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = Session.parse(await (await fetch(new URL(routes.sessions, agentUrl), { method: 'POST', headers: auth, body: JSON.stringify({ template }) })).json());
  await waitFor('the desktop to run', async () => {
    const s = Session.parse(await (await fetch(new URL(routes.session(created.id), agentUrl), { headers: auth })).json());
    return s.phase === 'Running' ? s : undefined;
  }, 30_000, 50);
  const state = JSON.parse(readFileSync(join(dataDir, 'local', 'local-sessions.json'), 'utf8')) as { sessions: { session: { id: string }; runDir: string }[] };
  return { id: created.id, runDir: state.sessions.find((r) => r.session.id === created.id)!.runDir, auth };
}
