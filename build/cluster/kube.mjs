// Small, dependency-free helper for up.sh: talks to the test cluster's API server with the admin client
// certificate kwokctl generated (no kubectl needed). All output goes to stderr; exit code says success.
//
//   node kube.mjs wait-ready   CLUSTER_DIR TIMEOUT_S            /readyz answers "ok"
//   node kube.mjs ensure-nodes CLUSTER_DIR POD_NET_OCTET N       N general KWOK nodes + 1 GPU node (idempotent)
//   node kube.mjs wait-nodes   CLUSTER_DIR TIMEOUT_S            every node Ready=True
//   node kube.mjs wait-sa      CLUSTER_DIR TIMEOUT_S            the controller manager made default/default
//   node kube.mjs ensure-storage CLUSTER_DIR                      a default StorageClass (hostPath provisioner)
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

const [cmd, dir, arg1, arg2] = process.argv.slice(2);
if (!cmd || !dir) {
  console.error('usage: kube.mjs wait-ready|ensure-nodes|wait-nodes|wait-sa CLUSTER_DIR ...');
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
function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server);
    const req = request(
      url,
      { method, ...tls, timeout: 5000, headers: body ? { 'content-type': 'application/json' } : {} },
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
      const r = await api('POST', '/api/v1/nodes', body);
      if (r.status !== 201 && r.status !== 409) {
        console.error(`porthole-cluster: creating node ${body.metadata.name}: ${r.status} ${r.body}`);
        process.exit(1);
      }
      if (r.status === 201) console.error(`porthole-cluster: node ${body.metadata.name} podCIDR ${body.spec.podCIDR}`);
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
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'kubernetes.io/host-path',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    };
    const r = await api('POST', '/apis/storage.k8s.io/v1/storageclasses', body);
    if (r.status !== 201 && r.status !== 409) {
      console.error(`porthole-cluster: creating the StorageClass: ${r.status} ${r.body}`);
      process.exit(1);
    }
    break;
  }
  default:
    console.error(`porthole-cluster: unknown command ${cmd}`);
    process.exit(2);
}
