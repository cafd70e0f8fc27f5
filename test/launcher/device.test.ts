/**
 * The device report as the Electron shell gives it, with Chromium's GPU process stood in by a probe
 * (Electron's binary is not installable here; test/electron asks the real one where it exists), and
 * as the web shell's core gives it: through the real bridge dispatcher both times.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { callBridge } from '../../main/core/bridge.js';
import { createLauncherCore, MemorySecretStore } from '../../main/core/index.js';
import { silentLogger } from '../../main/core/logger.js';
import { deviceSettingsFile, electronDevice, readDeviceSettings, type GpuProbe } from '../../main/electron/device.js';
import { chromiumSwitches } from '../../main/electron/policy.js';
import { tempDir } from '../support/processes.js';

const dir = tempDir('device');
afterAll(() => dir.remove());

const probe = (videoDecode: string): GpuProbe => ({
  featureStatus: () => ({ gpu_compositing: 'enabled', video_decode: videoDecode }),
  basicInfo: async () => ({ gpuDevice: [{ vendorId: 0x8086, deviceId: 0x46a6, vendorString: 'Intel', deviceString: 'Iris Xe' }] }),
});

function electronCore(userData: string, videoDecode = 'enabled') {
  const file = deviceSettingsFile(userData);
  // what main/electron/index.ts does at start: read the setting, derive the switches, hand the core the provider
  const facts = { platform: 'linux' as const, hasRenderNode: true, env: {}, ...readDeviceSettings(file) };
  const core = createLauncherCore({ secretStore: new MemorySecretStore(), logger: silentLogger, device: electronDevice(file, facts, probe(videoDecode)) });
  return { core, file, switches: chromiumSwitches(facts) };
}

describe('device report', () => {
  it('Electron: says the GPU decodes, turns it off for the next start, and the next start runs without it', async () => {
    const userData = join(dir.path, 'a');
    mkdirSync(userData);
    const first = electronCore(userData);
    const report = await callBridge(first.core, 'deviceReport', []);
    expect(report).toEqual({
      ok: true,
      value: {
        shell: 'electron',
        hardwareDecode: { enabled: true, restartNeeded: false, active: true, reason: expect.stringMatching(/decodes video on the GPU/) },
        gpuFeatures: { gpu_compositing: 'enabled', video_decode: 'enabled' },
        gpus: ['Intel Iris Xe'],
      },
    });
    const off = await callBridge(first.core, 'setHardwareDecode', [false]);
    expect(off).toMatchObject({ ok: true, value: { hardwareDecode: { enabled: false, restartNeeded: true, active: true } } });
    expect(JSON.parse(readFileSync(first.file, 'utf8'))).toEqual({ hardwareDecode: false });
    await first.core.close();

    const second = electronCore(userData);
    expect(second.switches).toEqual([['disable-accelerated-video-decode']]);
    expect(await callBridge(second.core, 'deviceReport', [])).toMatchObject({
      ok: true,
      value: { hardwareDecode: { enabled: false, restartNeeded: false, active: false, reason: expect.stringMatching(/turned off in this app's settings/) } },
    });
    await second.core.close();
  });

  it("Electron: a blocklisted GPU says why; a setting that cannot be saved says where, and keeps the old one", async () => {
    const userData = join(dir.path, 'b');
    mkdirSync(userData);
    writeFileSync(join(userData, 'device.json'), '{"hardwareDecode": tr'); // damaged: the default applies
    const { core, switches } = electronCore(userData, 'disabled_software');
    expect(switches).toEqual([['enable-features', 'VaapiVideoDecoder,AcceleratedVideoDecodeLinuxGL']]);
    expect(await callBridge(core, 'deviceReport', [])).toMatchObject({ ok: true, value: { hardwareDecode: { active: false, reason: expect.stringMatching(/blocklist/) } } });
    // a directory where the new file would be written: refused even to root
    mkdirSync(join(userData, 'device.json.tmp'));
    expect(await callBridge(core, 'setHardwareDecode', [false])).toEqual({ ok: false, error: { code: 'device_settings', message: expect.stringMatching(/could not save the setting in .*device\.json: EISDIR/) } });
    expect(readFileSync(join(userData, 'device.json'), 'utf8')).toBe('{"hardwareDecode": tr');
    expect(await callBridge(core, 'deviceReport', [])).toMatchObject({ ok: true, value: { hardwareDecode: { enabled: true, restartNeeded: false } } });
    expect(await callBridge(core, 'setHardwareDecode', ['no'])).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    await core.close();
  });

  it('web shell: the browser decides, and the setting is refused with a sentence', async () => {
    const core = createLauncherCore({ secretStore: new MemorySecretStore(), logger: silentLogger });
    expect(await callBridge(core, 'deviceReport', [])).toEqual({
      ok: true,
      value: { shell: 'browser', hardwareDecode: { restartNeeded: false, active: null, reason: expect.stringMatching(/the browser decides/) } },
    });
    expect(await callBridge(core, 'setHardwareDecode', [false])).toEqual({ ok: false, error: { code: 'unsupported', message: expect.stringMatching(/setting of the Porthole app/) } });
    await core.close();
  });
});
