// Small, dependency-free helper for up.sh: talks to the test cluster's API server with the admin client
// certificate kwokctl generated (no kubectl needed). All output goes to stderr; exit code says success.
//
//   node kube.mjs wait-ready   CLUSTER_DIR TIMEOUT_S            /readyz answers "ok"
//   node kube.mjs ensure-nodes CLUSTER_DIR POD_NET_OCTET N       N general KWOK nodes + 1 GPU node (idempotent)
//   node kube.mjs wait-nodes   CLUSTER_DIR TIMEOUT_S            every node Ready=True
//   node kube.mjs wait-sa      CLUSTER_DIR TIMEOUT_S            the controller manager made default/default
//   node kube.mjs ensure-storage CLUSTER_DIR                      a default StorageClass (hostPath provisioner)
//   node kube.mjs wait-node    CLUSTER_DIR NAME TIMEOUT_S [PIDFILE ...]
//                                                                one node Ready=True; fails at once when a
//                                                                process of a pid file has exited
//   node kube.mjs ensure-local-volumes CLUSTER_DIR NODE STATE_DIR COUNT
//                                                                local PVs on a real node and their StorageClass,
//                                                                made the default
//   node kube.mjs ensure-policy-rbac CLUSTER_DIR USER            read-only access for the node's NetworkPolicy
//                                                                enforcer (kube-router's firewall), as USER
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const [cmd, dir, arg1, arg2, ...rest] = process.argv.slice(2);
if (!cmd || !dir) {
  console.error('usage: kube.mjs wait-ready|ensure-nodes|wait-nodes|wait-sa|ensure-storage|wait-node|ensure-local-volumes|ensure-policy-rbac CLUSTER_DIR ...');
  process.exit(2);
}
const pki = join(dir, 'pki');
const kubeconfig = readFileSync(join(dir, 'kubeconfig.yaml'), 'utf8');
const server = /server:\s*(\S+)/.exec(kubeconfig)?.[1];
if (!server) throw new Error(`no server in ${dir}/kubeconfig.yaml`);
const tls = {
  ca: readFileSync(join(pki, 'ca.crt')),
  cert: readFileSync(join(pki, 'admin.crt')),
  key: readFileSync(join(pki, 'admin.key')),
};

/** @returns {Promise<{status: number, body: string}>} */
function api(method, path, body, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server);
    const req = request(
      url,
      { method, ...tls, timeout: 5000, headers: body ? { 'content-type': contentType } : {} },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Creates an object unless it exists; exits with the API server's answer otherwise. @returns {Promise<boolean>} created */
async function create(path, body) {
  const r = await api('POST', path, body);
  if (r.status !== 201 && r.status !== 409) {
    console.error(`porthole-cluster: creating ${body.kind} ${body.metadata.name}: ${r.status} ${r.body}`);
    process.exit(1);
  }
  return r.status === 201;
}

const DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';

async function until(what, timeoutS, check) {
  const deadline = Date.now() + Number(timeoutS || 60) * 1000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await check();
      if (r === true) return;
      last = String(r);
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(250);
  }
  console.error(`porthole-cluster: timed out waiting for ${what} (${last})`);
  process.exit(1);
}

function node(name, octet, index, gpu) {
  const cidr = `127.${octet}.${index}.0/24`;
  const capacity = { cpu: '256', memory: '1Ti', pods: '1000', 'ephemeral-storage': '1Ti' };
  if (gpu) capacity['nvidia.com/gpu'] = '4';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // kwokctl runs kwok with --manage-all-nodes; the annotation says what these nodes are anyway.
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        'porthole.dev/pool': gpu ? 'gpu' : 'general',
        ...(gpu ? { 'nvidia.com/gpu.present': 'true' } : {}),
      },
    },
    spec: {
      // KWOK hands out pod IPs from the node's podCIDR. 127.0.0.0/8 is all loopback on Linux, so a test can
      // put a real Xvnc on the pod IP and the agent's gateway reaches it by dialling that IP.
      podCIDR: cidr,
      podCIDRs: [cidr],
      ...(gpu ? { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] } : {}),
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: name },
      ],
      capacity,
      allocatable: capacity,
    },
  };
}

switch (cmd) {
  case 'wait-ready':
    await until('the API server', arg1, async () => {
      const r = await api('GET', '/readyz');
      return r.status === 200 || `readyz ${r.status}: ${r.body.slice(0, 200)}`;
    });
    break;
  case 'ensure-nodes': {
    const octet = Number(arg1);
    const n = Number(arg2 ?? 2);
    const nodes = [];
    for (let i = 0; i < n; i++) nodes.push(node(`kwok-node-${i}`, octet, i, false));
    nodes.push(node('kwok-gpu-node-0', octet, n, true));
    for (const body of nodes) {
      if (await create('/api/v1/nodes', body)) console.error(`porthole-cluster: node ${body.metadata.name} podCIDR ${body.spec.podCIDR}`);
    }
    break;
  }
  case 'wait-nodes':
    await until('KWOK nodes to be Ready', arg1, async () => {
      const r = await api('GET', '/api/v1/nodes');
      if (r.status !== 200) return `nodes ${r.status}`;
      const items = JSON.parse(r.body).items ?? [];
      const notReady = items.filter(
        (n) => !(n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return (items.length > 0 && notReady.length === 0) || `not ready: ${notReady.map((n) => n.metadata.name).join(',')}`;
    });
    break;
  case 'wait-sa':
    await until('the default ServiceAccount', arg1, async () => {
      const r = await api('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      return r.status === 200 || `serviceaccount ${r.status}`;
    });
    break;
  case 'ensure-storage': {
    // The controller manager runs with --enable-hostpath-provisioner (kwokctl.yaml): PVCs of this class get
    // a hostPath PV on this machine, as a CSI driver would give a real volume. Default, so home PVCs that
    // name no class bind too.
    const body = {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'standard', annotations: { [DEFAULT_CLASS]: 'true' } },
      provisioner: 'kubernetes.io/host-path',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    };
    await create('/apis/storage.k8s.io/v1/storageclasses', body);
    break;
  }
  case 'wait-node': {
    const [name, timeoutS, ...pidFiles] = [arg1, arg2, ...rest];
    const exited = (file) => {
      if (!existsSync(file)) return false; // not started yet (images are still being imported)
      try { process.kill(Number(readFileSync(file, 'utf8')), 0); return false; } catch { return true; }
    };
    await until(`node ${name} to be Ready`, timeoutS, async () => {
      const dead = pidFiles.find(exited);
      if (dead) { console.error(`porthole-cluster: ${dead} has exited`); process.exit(1); }
      const r = await api('GET', `/api/v1/nodes/${name}`);
      if (r.status === 404) return 'not registered yet';
      if (r.status !== 200) return `node ${r.status}`;
      const ready = (JSON.parse(r.body).status?.conditions ?? []).find((c) => c.type === 'Ready');
      return ready?.status === 'True' || (ready ? `${ready.reason}: ${ready.message}` : 'no Ready condition yet');
    });
    break;
  }
  case 'ensure-local-volumes': {
    // Storage for a real node as a bare-metal cluster has it: local PVs (directories under the node's
    // state, pinned to it) and a default StorageClass that binds when a pod is scheduled. The hostPath
    // provisioner makes root-owned 0750 directories that a uid-1000 desktop cannot write and that fsGroup
    // does not reach; the kubelet gives local volumes the pod's fsGroup.
    const [nodeName, stateDir, count] = [arg1, arg2, rest[0]];
    const classes = JSON.parse((await api('GET', '/apis/storage.k8s.io/v1/storageclasses')).body).items ?? [];
    for (const sc of classes) {
      if (sc.metadata?.annotations?.[DEFAULT_CLASS] !== 'true' || sc.metadata.name === 'porthole-local') continue;
      const patch = [{ op: 'replace', path: `/metadata/annotations/${DEFAULT_CLASS.replace('/', '~1')}`, value: 'false' }];
      const r = await api('PATCH', `/apis/storage.k8s.io/v1/storageclasses/${sc.metadata.name}`, patch, 'application/json-patch+json');
      if (r.status !== 200) { console.error(`porthole-cluster: un-defaulting StorageClass ${sc.metadata.name}: ${r.status} ${r.body}`); process.exit(1); }
    }
    await create('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'porthole-local', annotations: { [DEFAULT_CLASS]: 'true' } },
      provisioner: 'kubernetes.io/no-provisioner',
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Retain',
    });
    for (let i = 0; i < Number(count); i++) {
      const path = join(stateDir, 'volumes', String(i));
      mkdirSync(path, { recursive: true });
      await create('/api/v1/persistentvolumes', {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${nodeName}-local-${i}`, labels: { 'porthole.dev/node': 'real' } },
        spec: {
          capacity: { storage: '10Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: 'porthole-local',
          local: { path },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName] }] }] } },
        },
      });
    }
    break;
  }
  case 'ensure-policy-rbac': {
    // What kube-router's network policy controller watches, and nothing it could change.
    const name = 'porthole:network-policy-enforcer';
    await create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    await create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: arg1 }],
    });
    break;
  }
  default:
    console.error(`porthole-cluster: unknown command ${cmd}`);
    process.exit(2);
}
