/**
 * Sign-in to templates shown, per identity provider, on real parts: one agent (CLI, local runtime)
 * started from a config file with a users file, a real OpenLDAP `slapd` and a real `oidc-provider`
 * issuer. Each round signs a person in and lists their templates, as the launcher does after the
 * sign-in screen: users file (password, scrypt), LDAP (bind + group search), OIDC (the code flow at the
 * issuer is the person's time, measured apart; the agent's part is verifying the ID token: discovery and
 * keys are cached after the first). BENCH_ROUNDS (10).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { routes } from '../cluster-agent/contract/index.js';
import { startIssuer } from '../test/support/oidc-issuer.js';
import { runCli, startCli, stopProcess, tempDir } from '../test/support/processes.js';
import { BASE_DN, startSlapd } from '../test/support/slapd.js';
import { percentile, printResult, printTable, round } from './stats.js';

// 10: the login route allows 10 attempts a minute per user and address; more rounds wait for it.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);

async function post(url: string, path: string, body: unknown): Promise<{ accessToken: string }> {
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { accessToken: string };
}

async function templates(url: string, token: string): Promise<number> {
  const res = await fetch(new URL(routes.templates, url), { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { templates: unknown[] }).templates.length;
}

async function main(): Promise<void> {
  const data = tempDir('bench-sign-in');
  const slapd = await startSlapd([{ uid: 'lena', password: 'lena-pw', groups: ['designers'], posixGroups: ['devs'] }]);
  const idp = await startIssuer({ groups: { olga: ['designers'] } });
  const usersFile = join(data.path, 'users.yaml');
  await runCli('cluster-agent/agent/cli.ts', ['users', 'add', 'ursula', '--file', usersFile, '--password-stdin', '--groups', 'designers'], 'ursula-pw');
  const cfg = join(data.path, 'agent.yaml');
  writeFileSync(
    cfg,
    [
      'identity:',
      `  usersFile: ${usersFile}`,
      '  ldap:',
      `    url: ${slapd.url}`,
      `    userDn: "uid={user},ou=people,${BASE_DN}"`,
      `    groupSearchBase: "ou=groups,${BASE_DN}"`,
      '  oidc:',
      `    issuer: ${idp.issuer}`,
      '    clientId: porthole',
      '',
    ].join('\n'),
  );
  const agent = await startCli('cluster-agent/agent/cli.ts', ['serve', '--config', cfg, '--runtime', 'local', '--listen', '127.0.0.1:0', '--data-dir', join(data.path, 'agent')], /^listening on (\S+)/, 30_000);
  const url = agent.match[1]!;
  try {
    const cases: Array<{ provider: string; once: () => Promise<number> }> = [
      { provider: 'users file', once: async () => templates(url, (await post(url, routes.login, { username: 'ursula', password: 'ursula-pw' })).accessToken) },
      { provider: 'LDAP (slapd)', once: async () => templates(url, (await post(url, routes.login, { username: 'lena', password: 'lena-pw' })).accessToken) },
    ];
    // The issuer's part (login page, consent, code exchange) happens in the person's browser: measured apart.
    const idTokens: string[] = [];
    const issuerMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      idTokens.push((await idp.signIn('olga')).idToken);
      issuerMs.push(performance.now() - t0);
    }
    cases.push({ provider: 'OIDC (agent part)', once: async () => templates(url, (await post(url, routes.oidcLogin, { idToken: idTokens.pop()! })).accessToken) });

    const rows: Array<Record<string, string | number>> = [];
    const result: Record<string, { p50_ms: number; p95_ms: number }> = {};
    for (const c of cases) {
      const ms: number[] = [];
      // The login route allows 10 attempts a minute per user and address; rounds beyond that wait for it.
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        try {
          await c.once();
        } catch (err) {
          if (!/429/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 6500));
          i--;
          continue;
        }
        ms.push(performance.now() - t0);
      }
      result[c.provider] = { p50_ms: round(percentile(ms, 50), 1), p95_ms: round(percentile(ms, 95), 1) };
      rows.push({ provider: c.provider, rounds: ms.length, p50_ms: result[c.provider]!.p50_ms, p95_ms: result[c.provider]!.p95_ms, max_ms: round(Math.max(...ms), 1) });
    }
    rows.push({ provider: 'OIDC issuer (code flow, the browser part)', rounds: issuerMs.length, p50_ms: round(percentile(issuerMs, 50), 1), p95_ms: round(percentile(issuerMs, 95), 1), max_ms: round(Math.max(...issuerMs), 1) });
    printTable(`Sign-in to templates listed (${ROUNDS} rounds each, loopback, 2 cores)`, rows);
    printResult({ benchmark: 'sign-in', rounds: ROUNDS, providers: result, oidc_issuer_flow: { p50_ms: round(percentile(issuerMs, 50), 1), p95_ms: round(percentile(issuerMs, 95), 1) } });
  } finally {
    await stopProcess(agent.child);
    await slapd.stop();
    await idp.stop();
    data.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
