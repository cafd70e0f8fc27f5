/**
 * The Electron side of the device report: Chromium's GPU status and the hardware-decode setting,
 * kept in device.json in the app's data directory (it has to be read before the app is ready,
 * when the Chromium switches are set, so it cannot live in the renderer's storage).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PortholeError, type DeviceReport } from '../../bridge/contract.js';
import type { DeviceProvider } from '../core/index.js';
import { hardwareDecodeVerdict, parseDeviceSettings, type MachineFacts } from './policy.js';

export function deviceSettingsFile(userData: string): string {
  return join(userData, 'device.json');
}

/** What Chromium's GPU process says (Electron's app.getGPUFeatureStatus / getGPUInfo; injected for tests). */
export interface GpuProbe {
  featureStatus(): Record<string, string>;
  basicInfo(): Promise<unknown>;
}

export function readDeviceSettings(file: string): { hardwareDecode: boolean } {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  return parseDeviceSettings(text);
}

export function electronDevice(file: string, started: MachineFacts, gpu: GpuProbe): DeviceProvider {
  let enabled = started.hardwareDecode !== false;
  const report = async (): Promise<DeviceReport> => {
    const features = gpu.featureStatus();
    const info = (await gpu.basicInfo().catch(() => undefined)) as { gpuDevice?: { vendorString?: string; deviceString?: string; vendorId?: number; deviceId?: number }[] } | undefined;
    const gpus = (info?.gpuDevice ?? []).map((d) => [d.vendorString, d.deviceString].filter(Boolean).join(' ') || `vendor 0x${(d.vendorId ?? 0).toString(16)} device 0x${(d.deviceId ?? 0).toString(16)}`);
    const verdict = hardwareDecodeVerdict(started, features);
    return {
      shell: 'electron',
      hardwareDecode: { enabled, restartNeeded: enabled !== (started.hardwareDecode !== false), ...verdict },
      gpuFeatures: { ...features },
      gpus,
    };
  };
  return {
    report,
    async setHardwareDecode(on: boolean): Promise<DeviceReport> {
      try {
        // Whole file or nothing: a crash mid-write leaves the old setting, not a broken file.
        writeFileSync(`${file}.tmp`, `${JSON.stringify({ hardwareDecode: on }, null, 2)}\n`, { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
      } catch (error) {
        throw new PortholeError('device_settings', `Porthole could not save the setting in ${file}: ${(error as Error).message}`);
      }
      enabled = on;
      return report();
    },
  };
}
