/**
 * Sign-in against a real OpenLDAP `slapd` (test/support/slapd.ts): by DN template and by service-account
 * search, groups from groupOfNames and posixGroup deciding which templates a person may start, wrong
 * password and unknown user (the same 401), a disabled account, LDAP syntax in the user name staying a
 * name, StartTLS and ldaps:// with the test CA (and refused without it), a directory that is down (503
 * with a sentence, then sign-in again once it is back), and a refresh that sees the person's groups now.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../cluster-agent/contract/index.js';
import { escapeDnValue, escapeFilterValue } from '../../cluster-agent/identity/ldap-escape.js';
import { LdapProvider, type LdapConfig } from '../../cluster-agent/identity/ldap.js';
import { BASE_DN, startSlapd, type Slapd } from '../support/slapd.js';
import { call, startTestAgent, type TestAgent } from './support.js';

let slapd: Slapd;
const agents: TestAgent[] = [];
const template: Omit<LdapConfig, 'url'> = { userDn: `uid={user},ou=people,${BASE_DN}`, groupSearchBase: `ou=groups,${BASE_DN}`, disabledFilter: '(employeeType=disabled)' };

beforeAll(async () => {
  slapd = await startSlapd([
    { uid: 'ann', password: 'ann-pw', groups: ['designers'], posixGroups: ['devs'] },
    { uid: 'bob', password: 'bob-pw' },
    { uid: 'dora', password: 'dora-pw', groups: ['designers'], employeeType: 'disabled' },
    { uid: 'Mia', password: 'mia-pw' },
    { uid: 'ann.k', password: 'annk-pw' },
  ]);
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.cleanup();
  await slapd?.stop();
});

async function agentWith(ldap: LdapConfig): Promise<string> {
  // A local admin in the users file too: both providers at once.
  const t = await startTestAgent({ root: { password: 'root-pw' } }, { ldap: new LdapProvider(ldap), restrict: { terminal: { allowedGroups: ['designers'] } } });
  agents.push(t);
  return t.agent.url;
}

const login = (url: string, username: string, password: string) => call(url, 'POST', routes.login, { json: { username, password } });

describe('escaping (pure)', () => {
  it('keeps LDAP syntax in a name a name', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0')).toBe('a\\5cb\\00');
    expect(escapeDnValue('ann,ou=admins')).toBe('ann\\,ou\\=admins');
    expect(escapeDnValue(' #x ')).toBe('\\ #x\\ ');
  });
});

describe('LDAP sign-in against slapd', { timeout: 60_000 }, () => {
  it('by DN template: groups from groupOfNames and posixGroup decide the templates; wrong password, unknown and disabled are refused', async () => {
    const url = await agentWith({ url: slapd.url, ...template });
    const ok = await login(url, 'ann', 'ann-pw');
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user).toEqual({ name: 'ann', groups: ['designers', 'devs'] });
    const templates = await call(url, 'GET', routes.templates, { token: ok.body.accessToken });
    expect(templates.body.templates.map((t: { name: string }) => t.name)).toContain('terminal');
    const bob = await login(url, 'bob', 'bob-pw');
    expect(bob.status).toBe(200);
    expect(bob.body.user.groups).toEqual([]);
    const bobTemplates = await call(url, 'GET', routes.templates, { token: bob.body.accessToken });
    expect(bobTemplates.body.templates.map((t: { name: string }) => t.name)).not.toContain('terminal');

    const wrong = await login(url, 'ann', 'nope');
    const unknown = await login(url, 'zed', 'whatever');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.error.message).toBe('Wrong user name or password');
    expect([wrong.body.error.reason, unknown.body.error.reason]).toEqual(['bad_credentials', 'bad_credentials']);
    expect(unknown.body.error.message).toBe('Wrong user name or password');
    const disabled = await login(url, 'dora', 'dora-pw');
    expect(disabled.status).toBe(401);
    expect(disabled.body.error.message).toMatch(/disabled in the company directory/);
    expect(disabled.body.error.reason).toBe('disabled');
    // A directory's `Mia` is Porthole's `mia`; a name that cannot be a Porthole user is refused, saying so.
    const mia = await login(url, 'Mia', 'mia-pw');
    expect(mia.status).toBe(200);
    expect(mia.body.user.name).toBe('mia');
    const dotted = await login(url, 'ann.k', 'annk-pw');
    expect(dotted.status).toBe(401);
    expect(dotted.body.error.message).toMatch(/The name "ann\.k" from the company directory cannot be used here/);
    expect(dotted.body.error.reason).toBe('unusable_name');
    // The users file still signs its own people in.
    expect((await login(url, 'root', 'root-pw')).status).toBe(200);
  });

  it('by service-account search, with LDAP syntax in the name; a refresh sees the groups as they are now', async () => {
    const pwFile = join(slapd.dir, 'reader.pw');
    writeFileSync(pwFile, 'reader-pw\n', { mode: 0o600 });
    const cfg: LdapConfig = { url: slapd.url, bindDn: `cn=reader,${BASE_DN}`, bindPasswordFile: pwFile, userSearchBase: `ou=people,${BASE_DN}`, groupSearchBase: `ou=groups,${BASE_DN}`, disabledFilter: '(employeeType=disabled)' };
    const url = await agentWith(cfg);
    const ok = await login(url, 'ann', 'ann-pw');
    expect(ok.status).toBe(200);
    // A filter injection would match every person (and bind as the first one found with that password).
    for (const name of ['*', 'a*', '*)(uid=*', 'ann)(|(uid=*']) {
      const r = await login(url, name, 'ann-pw');
      expect(r.status, name).toBe(401);
      expect(r.body.error.message).toBe('Wrong user name or password');
    }
    const refreshed = await call(url, 'POST', routes.refresh, { json: { refreshToken: ok.body.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user.groups).toEqual(['designers', 'devs']);
    // The service account's password wrong: the directory cannot be used, which is a 503, not a 401.
    writeFileSync(pwFile, 'wrong\n');
    const broken = await agentWith(cfg);
    const r = await login(broken, 'ann', 'ann-pw');
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/refused the agent's service account/);
  });

  it('StartTLS and ldaps:// with the CA file; without it the certificate is refused (503, saying why)', async () => {
    const tls = await agentWith({ url: slapd.url, startTls: true, caFile: slapd.caFile, ...template });
    const viaStartTls = await login(tls, 'ann', 'ann-pw');
    expect(viaStartTls.status, JSON.stringify(viaStartTls.body)).toBe(200);
    const ldaps = await agentWith({ url: slapd.ldapsUrl, caFile: slapd.caFile, ...template });
    expect((await login(ldaps, 'ann', 'ann-pw')).status).toBe(200);
    const untrusted = await agentWith({ url: slapd.ldapsUrl, ...template });
    const r = await login(untrusted, 'ann', 'ann-pw');
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/cannot be reached .*(certificate|SELF_SIGNED|UNABLE_TO)/i);
  });

  it('a directory that is down is a 503 with a sentence, never a wrong password; back up, sign-in works again', async () => {
    const url = await agentWith({ url: slapd.url, timeoutSeconds: 2, ...template });
    await slapd.kill();
    try {
      const down = await login(url, 'ann', 'ann-pw');
      expect(down.status).toBe(503);
      expect(down.body.error).toMatchObject({ code: 'unavailable' });
      expect(down.body.error.message).toMatch(/company directory \(ldap:\/\/127\.0\.0\.1:\d+\) cannot be reached \(ECONNREFUSED/);
    } finally {
      await slapd.start();
    }
    expect((await login(url, 'ann', 'ann-pw')).status).toBe(200);
  });
});
