/**
 * Enrolled devices in a Secret (`porthole-agent-devices`), so every replica knows every device and a
 * revocation reaches them all. Updates replace it with the resourceVersion they read; a replica that
 * lost the race reads again and applies its change to the new document.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { apiMessage, isConflict, isNotFound, statusOf, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';
import { DeviceError, DevicesDoc, emptyDevices, type DeviceStore } from '../devices.js';

export const DEVICES_SECRET = 'porthole-agent-devices';
const KEY = 'devices.json';
const ATTEMPTS = 5;

function devicesSecret(namespace: string, doc: DevicesDoc, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: DEVICES_SECRET,
      namespace,
      labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'agent' },
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    data: { [KEY]: Buffer.from(JSON.stringify(doc), 'utf8').toString('base64') },
  };
}

export class KubernetesDeviceStore implements DeviceStore {
  readonly where: string;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
  ) {
    this.where = `Secret ${namespace}/${DEVICES_SECRET}`;
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RuntimeError || err instanceof DeviceError) throw err;
      const status = statusOf(err);
      if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${this.clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
      if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not read or write the ${this.where} (${apiMessage(err)}): check its Role (\`porthole-agent manifests\`)`);
      throw new RuntimeError('unavailable', `Could not read or write the ${this.where}: ${apiMessage(err)}`);
    }
  }

  private async read(): Promise<{ doc: DevicesDoc; resourceVersion?: string } | undefined> {
    let s: V1Secret;
    try {
      s = await this.clients.core.readNamespacedSecret({ name: DEVICES_SECRET, namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(s.data?.[KEY] ?? '', 'base64').toString('utf8'));
    } catch {
      json = undefined;
    }
    const parsed = DevicesDoc.safeParse(json);
    if (!parsed.success) throw new RuntimeError('unavailable', `The ${this.where} holds no list of enrolled devices; delete it (every device is then enrolled again)`);
    return { doc: parsed.data, ...(s.metadata?.resourceVersion !== undefined ? { resourceVersion: s.metadata.resourceVersion } : {}) };
  }

  load(): Promise<DevicesDoc> {
    return this.guard(async () => (await this.read())?.doc ?? emptyDevices());
  }

  update<T>(change: (doc: DevicesDoc) => { doc: DevicesDoc; result: T }): Promise<T> {
    return this.guard(async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        const found = await this.read();
        const { doc, result } = change(found?.doc ?? emptyDevices());
        try {
          if (found) await this.clients.core.replaceNamespacedSecret({ name: DEVICES_SECRET, namespace: this.namespace, body: devicesSecret(this.namespace, doc, found.resourceVersion) });
          else await this.clients.core.createNamespacedSecret({ namespace: this.namespace, body: devicesSecret(this.namespace, doc) });
          return result;
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err)) throw err;
        }
      }
      throw new RuntimeError('unavailable', `The ${this.where} kept changing; try again`);
    });
  }
}
