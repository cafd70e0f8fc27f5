/**
 * Enrolled devices on a real agent, with the codes made by the real CLI (`devices enroll`) in the
 * agent's data dir, and the launcher core's own device key (main/core/device-key.ts) making the proofs:
 * a code enrols once and not again; a group that needs an enrolled device signs in only with a proof;
 * proofs that are replayed, forged or of an unknown device are refused with their reason; `devices
 * revoke` ends the device's sign-in at once (its next request and its refresh) and its next sign-in.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_PROOF_AUDIENCE, DEVICE_PROOF_HEADER, routes, type DevicePublicKey } from '../../cluster-agent/contract/index.js';
import { issueEnrolment, emptyDevices, redeemEnrolment } from '../../cluster-agent/state/devices.js';
import { DeviceKeys } from '../../main/core/device-key.js';
import { MemorySecretStore } from '../../main/core/secret-store.js';
import { runCli, waitFor } from '../support/processes.js';
import { call, startTestAgent, type TestAgent } from './support.js';

const AGENT = 'cluster-agent/agent/cli.ts';
let t: TestAgent;
let base: string;
let dataDir: string;
let kiosk: DeviceKeys;

async function enrolmentCode(name: string): Promise<string> {
  const made = await runCli(AGENT, ['devices', 'enroll', '--name', name, '--data-dir', dataDir]);
  expect(made.code, made.stderr).toBe(0);
  expect(made.stderr).toMatch(new RegExp(`^porthole-agent: enrolment code for "${name}" \\(.*devices\\.json\\), valid until \\d{4}-`));
  return made.stdout.trim();
}

const login = async (username: string, proof?: string) =>
  call(base, 'POST', routes.login, { json: { username, password: 'pw' }, ...(proof ? { headers: { [DEVICE_PROOF_HEADER]: proof } } : {}) });

beforeAll(async () => {
  t = await startTestAgent({ kim: { password: 'pw', groups: ['lobby'] }, ann: { password: 'pw' } }, { devicesRequiredForGroups: ['lobby'] });
  base = t.agent.url;
  dataDir = join(t.dir.path, 'agent');
  const store = new MemorySecretStore();
  kiosk = new DeviceKeys(async () => store);
});

afterAll(async () => {
  await t?.cleanup();
});

describe('enrolled devices', () => {
  it('a code from `devices enroll` enrols one device once; the device then signs in with its proof', async () => {
    const code = await enrolmentCode('lobby-kiosk');
    expect(code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    const device = await kiosk.enroll(base, (publicKey) => call(base, 'POST', routes.enrollDevice, { json: { code: code.toLowerCase(), publicKey } }).then((r) => (expect(r.status).toBe(201), r.body)));
    expect(device).toEqual({ id: expect.stringMatching(/^dev-/), name: 'lobby-kiosk' });
    expect(await kiosk.enrolment(base)).toEqual(device);

    const again = await call(base, 'POST', routes.enrollDevice, { json: { code, publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) } } });
    expect(again.status).toBe(401);
    expect(again.body.error).toMatchObject({ code: 'unauthorized', reason: 'enrolment_code_invalid', message: expect.stringMatching(/not valid \(or was used already\)/) });

    // Someone in a group that needs an enrolled device: refused without a proof, signed in with one.
    const without = await login('kim');
    expect(without.status).toBe(401);
    expect(without.body.error).toMatchObject({ reason: 'device_required', message: 'As a member of lobby you may sign in only on a device your organisation enrolled (a kiosk)' });
    expect((await login('kim', await kiosk.proof(base))).status).toBe(200);
    // Others sign in anywhere, and on the kiosk too.
    expect((await login('ann')).status).toBe(200);
    expect((await login('ann', await kiosk.proof(base))).status).toBe(200);

    const list = await runCli(AGENT, ['devices', 'list', '--data-dir', dataDir]);
    expect(list.stdout).toMatch(new RegExp(`^${device.id}  lobby-kiosk  enrolled \\d{4}-`, 'm'));
  });

  it('refuses a proof used twice, one signed by another key, and one from a device never enrolled', async () => {
    const proof = (await kiosk.proof(base))!;
    expect((await login('kim', proof)).status).toBe(200);
    const replay = await login('kim', proof);
    expect(replay.body.error).toMatchObject({ reason: 'device_proof_invalid', message: 'This device proof was used already' });

    const device = (await kiosk.enrolment(base))!;
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject(device.id).setAudience(DEVICE_PROOF_AUDIENCE).setIssuedAt().setExpirationTime('2m').setJti(randomUUID()).sign(privateKey);
    expect((await login('kim', forged)).body.error).toMatchObject({ reason: 'device_proof_invalid', message: expect.stringMatching(/^The device proof does not hold/) });

    const unknown = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject('dev-nobody').setAudience(DEVICE_PROOF_AUDIENCE).setIssuedAt().setExpirationTime('2m').setJti(randomUUID()).sign(privateKey);
    expect((await login('ann', unknown)).body.error).toMatchObject({ reason: 'device_proof_invalid', message: expect.stringMatching(/not enrolled here/) });
    expect((await login('ann', 'not a jwt')).body.error.reason).toBe('device_proof_invalid');
  });

  it('`devices revoke` ends the sign-in made on that device at once: its next request, its refresh, its next sign-in', async () => {
    const signedIn = (await login('kim', await kiosk.proof(base))).body;
    expect((await call(base, 'GET', routes.me, { token: signedIn.accessToken })).status).toBe(200);
    const revoked = await runCli(AGENT, ['devices', 'revoke', 'lobby-kiosk', '--data-dir', dataDir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toMatch(/^porthole-agent: revoked dev-\S+ \("lobby-kiosk"\); its sign-ins end within seconds$/m);

    const me = await waitFor('the revocation to be seen', async () => {
      const r = await call(base, 'GET', routes.me, { token: signedIn.accessToken });
      return r.status === 401 ? r : undefined;
    }, 5_000, 200);
    expect(me.body.error).toMatchObject({ reason: 'device_revoked', message: "This device's enrolment was revoked; ask your administrator to enrol it again" });
    const refresh = await call(base, 'POST', routes.refresh, { json: { refreshToken: signedIn.refreshToken } });
    expect(refresh.body.error.reason).toBe('device_revoked');
    expect((await login('kim', await kiosk.proof(base))).body.error.reason).toBe('device_revoked');
    expect((await runCli(AGENT, ['devices', 'list', '--data-dir', dataDir])).stdout).toMatch(/lobby-kiosk {2}enrolled \S+ {2}revoked \d{4}-/);
  });

  it('says what is wrong on the command line', async () => {
    expect((await runCli(AGENT, ['devices', 'enroll', '--data-dir', dataDir])).stderr).toMatch(/devices enroll needs --name NAME/);
    expect((await runCli(AGENT, ['devices', 'revoke', 'nobody', '--data-dir', dataDir])).stderr).toMatch(/No enrolled device has the id or name "nobody"/);
    const bad = await runCli(AGENT, ['devices', 'enroll', '--name', '../x', '--data-dir', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--name: a device name is/);
  });

  it('a template that needs an enrolled device is listed as unavailable elsewhere, saying why, and starts only from a sign-in on one', async () => {
    const other = await startTestAgent({ ann: { password: 'pw' } }, { restrict: { terminal: { requireEnrolledDevice: true } } });
    try {
      const otherData = join(other.dir.path, 'agent');
      const made = await runCli(AGENT, ['devices', 'enroll', '--name', 'desk', '--data-dir', otherData]);
      const deskStore = new MemorySecretStore();
      const desk = new DeviceKeys(async () => deskStore);
      const ob = other.agent.url;
      await desk.enroll(ob, async (publicKey) => {
        const r = await call(ob, 'POST', routes.enrollDevice, { json: { code: made.stdout.trim(), publicKey } });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        return r.body;
      });

      const elsewhere = (await call(ob, 'POST', routes.login, { json: { username: 'ann', password: 'pw' } })).body.accessToken;
      const meBody = (await call(ob, 'GET', routes.me, { token: elsewhere })).body;
      expect(meBody.templates, JSON.stringify(meBody)).toBeDefined();
      const listed = meBody.templates.find((x: { name: string }) => x.name === 'terminal');
      expect(listed).toMatchObject({ available: false, unavailableReason: 'This desktop opens only on a device your organisation enrolled (a kiosk); sign in there' });
      const refused = await call(ob, 'POST', routes.sessions, { token: elsewhere, json: { template: 'terminal' } });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toMatch(/opens only on a device your organisation enrolled/);

      const deskLogin = await call(ob, 'POST', routes.login, { json: { username: 'ann', password: 'pw' }, headers: { [DEVICE_PROOF_HEADER]: (await desk.proof(ob))! } });
      expect(deskLogin.status, JSON.stringify(deskLogin.body)).toBe(200);
      const onDesk = deskLogin.body.accessToken;
      expect((await call(ob, 'GET', routes.me, { token: onDesk })).body.templates.find((x: { name: string }) => x.name === 'terminal')).toMatchObject({ available: true });
      const started = await call(ob, 'POST', routes.sessions, { token: onDesk, json: { template: 'terminal' } });
      expect([200, 202]).toContain(started.status);
    } finally {
      await other.cleanup();
    }
  }, 60_000);

  it('codes expire after a day, and "expired" is told apart from "wrong" (the pure rules)', () => {
    const pub: DevicePublicKey = { kty: 'OKP', crv: 'Ed25519', x: 'B'.repeat(43) };
    const doc = issueEnrolment(emptyDevices(), 'k1', 'AAAA-BBBB-CCCC', 0);
    expect(() => redeemEnrolment(doc, 'aaaabbbbcccc', pub, 24 * 3600_000 + 1)).toThrow(/has expired \(they are valid for a day\)/);
    expect(() => redeemEnrolment(doc, 'AAAA-BBBB-CCCD', pub, 1000)).toThrow(/not valid/);
    expect(redeemEnrolment(doc, 'aaaa bbbb cccc', pub, 1000).device.name).toBe('k1');
    expect(() => issueEnrolment(redeemEnrolment(doc, 'AAAABBBBCCCC', pub, 1).doc, 'k1', 'X', 2)).toThrow(/is enrolled already/);
  });
});
