/**
 * Enrolled devices in a Secret (`porthole-agent-devices`), so every replica knows every device and a
 * revocation reaches them all. Updates replace it with the resourceVersion they read; a replica that
 * lost the race reads again and applies its change to the new document.
 */
import { isConflict, isNotFound, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';
import { DeviceError, DevicesDoc, emptyDevices, type DeviceStore } from '../devices.js';
import { SecretDocument } from './secret-document.js';

export const DEVICES_SECRET = 'porthole-agent-devices';
const ATTEMPTS = 5;

export class KubernetesDeviceStore implements DeviceStore {
  readonly where: string;
  private readonly secret: SecretDocument<DevicesDoc>;

  constructor(clients: KubeClients, namespace: string) {
    this.secret = new SecretDocument(clients, namespace, DEVICES_SECRET, 'devices.json', DevicesDoc, 'delete it (every device is then enrolled again)');
    this.where = this.secret.where;
  }

  load(): Promise<DevicesDoc> {
    return this.secret.guard(async () => (await this.secret.read())?.doc ?? emptyDevices());
  }

  update<T>(change: (doc: DevicesDoc) => { doc: DevicesDoc; result: T }): Promise<T> {
    return this.secret.guard(
      async () => {
        for (let i = 0; i < ATTEMPTS; i++) {
          const found = await this.secret.read();
          const { doc, result } = change(found?.doc ?? emptyDevices());
          try {
            if (found) await this.secret.replace(doc, found.resourceVersion);
            else await this.secret.create(doc);
            return result;
          } catch (err) {
            if (!isConflict(err) && !isNotFound(err)) throw err;
          }
        }
        throw new RuntimeError('unavailable', `The ${this.where} kept changing; try again`);
      },
      (err) => err instanceof DeviceError,
    );
  }
}
