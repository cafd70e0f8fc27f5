/**
 * The launcher policy file (main/core/policy.ts): strict, with errors that name the key; every setting
 * with its source; PORTHOLE_POLICY and the default path; the web shell's --show-policy and its refusal
 * to start on a broken file; the Electron kiosk window's settings and the keys it swallows.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { effectivePolicy, loadPolicySync, parsePolicy, policyTable } from '../../main/core/policy.js';
import { kioskSwallows, parseLauncherArgs, windowSettings } from '../../main/electron/policy.js';
import { runCli, tempDir } from '../support/processes.js';

const dir = tempDir('policy');
afterAll(() => dir.remove());
const F = '/etc/porthole/policy.json';

describe('the policy file', () => {
  it('names the key of every mistake', () => {
    const bad: Array<[string, RegExp]> = [
      ['{', /^policy \/etc\/porthole\/policy\.json: not valid JSON/],
      ['[]', /^policy .*: \(the file\) expected object/],
      ['{"kiosk": {"enabled": "yes"}}', /^policy .*: kiosk\.enabled expected boolean, received string$/],
      ['{"kiosk": {"enabled": true, "idleSignOutSeconds": 2}}', /^policy .*: kiosk\.idleSignOutSeconds Too small: expected number to be >=10$/],
      ['{"kiosk": {"enabeld": true}}', /^policy .*: unknown key kiosk\.enabeld \(see docs\/launcher\.md, "Policy"\)$/],
      ['{"agentUrl": "ftp://x"}', /^policy .*: agentUrl .*it must start with http:\/\/ or https:\/\//],
      ['{"signIn": {"methods": []}}', /^policy .*: signIn\.methods Too small/],
      ['{"signIn": {"methods": ["saml"]}}', /^policy .*: signIn\.methods\.0 expected one of "password"\|"oidc"$/],
      ['{"clipboard": "sideways"}', /^policy .*: clipboard expected one of/],
      ['{"kiosk": {"autoStartTemplate": "xfce"}}', /^policy .*: kiosk\.autoStartTemplate is for kiosks; set kiosk\.enabled to true, or remove it$/],
    ];
    for (const [text, message] of bad) expect(() => parsePolicy(text, F), text).toThrow(message);
  });

  it('gives every setting its value and source: what the policy fixes is managed, the rest is the default', () => {
    const p = effectivePolicy(parsePolicy('{"agentUrl": "porthole.example.org:7380", "kiosk": {"enabled": true}, "clipboard": "none"}', F), F);
    expect(p).toEqual({
      file: F,
      agentUrl: { value: 'http://porthole.example.org:7380', source: 'policy' },
      kiosk: { value: true, source: 'policy' },
      autoStartTemplate: { value: null, source: 'default' },
      idleSignOutSeconds: { value: 600, source: 'default' },
      signInMethods: { value: ['password', 'oidc'], source: 'default' },
      protocols: { value: ['webrtc', 'vnc'], source: 'default' },
      hardwareDecode: { value: null, source: 'default' },
      clipboard: { value: 'none', source: 'policy' },
      admin: { value: false, source: 'default' },
    });
    // Not a kiosk: no idle sign-out unless asked.
    expect(effectivePolicy({}, null).idleSignOutSeconds).toEqual({ value: null, source: 'default' });
  });

  it('is read from PORTHOLE_POLICY, which must exist; without it a missing default file means no policy', () => {
    const file = join(dir.path, 'p.json');
    writeFileSync(file, '{"streaming": {"protocols": ["vnc"]}}');
    expect(loadPolicySync({ PORTHOLE_POLICY: file }).protocols).toEqual({ value: ['vnc'], source: 'policy' });
    expect(() => loadPolicySync({ PORTHOLE_POLICY: join(dir.path, 'missing.json') })).toThrow(/^policy .*missing\.json: cannot be read \(ENOENT\) \(named by PORTHOLE_POLICY\)$/);
    expect(policyTable(effectivePolicy({ kiosk: { enabled: true } }, file)).split('\n')).toEqual(
      expect.arrayContaining([`policy file: ${file}`, expect.stringMatching(/^kiosk\.enabled +true +managed \(policy\)$/), expect.stringMatching(/^clipboard +both +default$/)]),
    );
  });
});

describe('web shell and the policy', () => {
  it('--show-policy prints every setting and where it came from; a broken file stops the shell, naming the key', async () => {
    const file = join(dir.path, 'shell.json');
    writeFileSync(file, '{"kiosk": {"enabled": true, "autoStartTemplate": "terminal"}, "streaming": {"hardwareDecode": false}}');
    process.env.PORTHOLE_POLICY = file;
    try {
      const shown = await runCli('main/webshell/cli.ts', ['--show-policy']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(new RegExp(`^policy file: ${file}\\n`));
      expect(shown.stdout).toMatch(/^kiosk\.autoStartTemplate +terminal +managed \(policy\)$/m);
      expect(shown.stdout).toMatch(/^streaming\.hardwareDecode +false +managed \(policy\)$/m);
      expect(shown.stdout).toMatch(/^agentUrl +\(not set\) +default$/m);

      writeFileSync(file, '{"kiosk": {"idleSignOutSeconds": "soon"}}');
      const broken = await runCli('main/webshell/cli.ts', ['--listen', '127.0.0.1:0'], undefined, { timeoutMs: 20_000 });
      expect(broken.code).toBe(2);
      expect(broken.stderr.trim()).toBe(`webshell: policy ${file}: kiosk.idleSignOutSeconds expected number, received string`);
    } finally {
      delete process.env.PORTHOLE_POLICY;
    }
  }, 40_000);
});

describe('the Electron kiosk window', () => {
  it('is one full-screen window that cannot be closed or minimised, without menu or devtools', () => {
    expect(windowSettings(true, false)).toEqual({ kiosk: true, fullscreen: true, closable: false, minimizable: false, menu: false, devTools: false });
    expect(windowSettings(false, true)).toMatchObject({ kiosk: false, closable: true, devTools: false });
    expect(windowSettings(false, false).devTools).toBe(true);
    expect(parseLauncherArgs(['--show-policy', '--admin', '--kiosk'])).toEqual({ kiosk: true, showPolicy: true, admin: true });
  });

  it('swallows the keys that would close, reload, inspect or navigate it, and lets the desktop have the rest', () => {
    const key = (k: string, mods: Partial<{ control: boolean; alt: boolean; meta: boolean; shift: boolean }> = {}, type = 'keyDown') => ({ type, key: k, control: false, alt: false, meta: false, shift: false, ...mods });
    for (const k of [key('F4', { alt: true }), key('w', { control: true }), key('W', { control: true }), key('q', { meta: true }), key('r', { control: true }), key('F5'), key('F11'), key('F12'), key('I', { control: true, shift: true }), key('ArrowLeft', { alt: true }), key('BrowserBack')]) {
      expect(kioskSwallows(k), JSON.stringify(k)).toBe(true);
    }
    for (const k of [key('a'), key('c', { control: true }), key('v', { control: true }), key('Tab', { alt: true }), key('Delete', { control: true, alt: true }), key('F4', { alt: true }, 'keyUp'), key('Enter')]) {
      expect(kioskSwallows(k), JSON.stringify(k)).toBe(false);
    }
  });
});
