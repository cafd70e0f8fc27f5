/**
 * Storage for the real node as a bare-metal cluster has it: local PersistentVolumes (directories under the
 * node's own state, pinned to it) and a default StorageClass for them that binds when a pod is scheduled.
 * The hostPath provisioner of the KWOK nodes makes root-owned 0750 directories that a uid-1000 desktop
 * cannot write and that fsGroup does not reach; the kubelet gives local volumes the pod's fsGroup.
 * Usage: node build/node/local-volumes.mjs KUBECONFIG NODE DIR COUNT
 */
import { CoreV1Api, KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [kubeconfig, node, dir, count] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const storage = kc.makeApiClient(StorageV1Api);
const core = kc.makeApiClient(CoreV1Api);
const DEFAULT = 'storageclass.kubernetes.io/is-default-class';
const exists = (e) => e?.code === 409;

for (const sc of (await storage.listStorageClass()).items) {
  if (sc.metadata?.annotations?.[DEFAULT] === 'true' && sc.metadata.name !== 'porthole-local') {
    await storage.patchStorageClass({ name: sc.metadata.name, body: [{ op: 'replace', path: `/metadata/annotations/${DEFAULT.replace('/', '~1')}`, value: 'false' }] });
  }
}
await storage.createStorageClass({ body: {
  metadata: { name: 'porthole-local', annotations: { [DEFAULT]: 'true' } },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'WaitForFirstConsumer',
  reclaimPolicy: 'Retain',
} }).catch((e) => { if (!exists(e)) throw e; });
for (let i = 0; i < Number(count); i++) {
  const path = join(dir, 'volumes', String(i));
  mkdirSync(path, { recursive: true });
  await core.createPersistentVolume({ body: {
    metadata: { name: `${node}-local-${i}`, labels: { 'porthole.dev/node': 'real' } },
    spec: {
      capacity: { storage: '10Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'porthole-local',
      local: { path },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
    },
  } }).catch((e) => { if (!exists(e)) throw e; });
}
