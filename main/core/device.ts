/**
 * How this device decodes video, as the launcher's shell knows it. The shell that can change it
 * (Electron) passes its own provider to the core; the web shell has nothing to report but that the
 * browser decides.
 */
import { PortholeError, type DeviceReport } from '../../bridge/contract.js';

export interface DeviceProvider {
  report(): Promise<DeviceReport>;
  setHardwareDecode(enabled: boolean): Promise<DeviceReport>;
}

export const browserDevice: DeviceProvider = {
  report: async () => ({
    shell: 'browser',
    hardwareDecode: {
      restartNeeded: false,
      active: null,
      reason: 'In a browser, the browser decides whether video is decoded on the GPU (its chrome://gpu page says so); the Porthole app reports it and can turn it off.',
    },
  }),
  setHardwareDecode: async () => {
    throw new PortholeError('unsupported', "Hardware decoding is a setting of the Porthole app; in a browser it is the browser's own (chrome://settings/system).");
  },
};
