/**
 * The real node of a test cluster (build/node/up.sh): a kubelet on containerd in a network namespace of
 * its own. Tests reach into it only the ways a person could on such a machine: a relay into the namespace
 * for TCP, containerd's own CLI for a container's process, and /proc and the cgroup files for what the
 * kernel enforces on that process.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TemplateCRSpec, TemplateResource } from '../../cluster-agent/kubernetes/resources.js';

const run = promisify(execFile);

/** What puts a pod on the real node, and only there: its label, and the toleration of its taint (build/node/up.sh). */
export const ON_REAL_NODE = {
  nodeSelector: { 'porthole.dev/node': 'real' },
  tolerations: [{ key: 'porthole.dev/node', operator: 'Equal', value: 'real', effect: 'NoSchedule' }],
};

/** A Template (from default-templates.ts) pinned to the real node and sized for it: 1 CPU and 1 GiB at most. */
export function onTheRealNode(t: TemplateResource, spec: Partial<TemplateCRSpec> = {}): TemplateResource {
  Object.assign(t.spec, ON_REAL_NODE, { resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } } }, spec);
  return t;
}

export interface RealNode {
  name: string;
  netns: string;
  /** the node's state directory (containerd's socket, logs) */
  dir: string;
}

/**
 * A loopback port on the host that forwards each connection to host:port inside the namespace (one
 * socat per connection, entered with nsenter): nothing of the namespace's addresses leaves it.
 */
export async function relayInto(netns: string, port: number, host = '127.0.0.1'): Promise<{ url: string; close: () => Promise<void> }> {
  const children = new Set<ReturnType<typeof spawn>>();
  const server: Server = createServer((socket) => {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', 'socat', 'STDIO', `TCP:${host}:${port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.add(child);
    socket.pipe(child.stdin!);
    child.stdout!.pipe(socket);
    socket.on('error', () => child.kill());
    socket.on('close', () => child.kill());
    child.on('exit', () => { children.delete(child); socket.destroy(); });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const c of children) c.kill();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** containerd's id of a container, from the pod status's containerID (containerd://ID) */
const taskId = (containerId: string) => containerId.replace(/^containerd:\/\//, '');

function ctr(node: RealNode, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('ctr', ['--address', join(node.dir, 'containerd.sock'), '-n', 'k8s.io', ...args], { maxBuffer: 8 << 20 });
}

/** The host pid of a container's first process, from containerd (containerID as in pod status). */
export async function containerPid(node: RealNode, containerId: string): Promise<number> {
  const id = taskId(containerId);
  const { stdout } = await ctr(node, ['tasks', 'ls']);
  const line = stdout.split('\n').find((l) => l.startsWith(`${id} `));
  if (!line) throw new Error(`containerd has no task ${id}:\n${stdout}`);
  return Number(line.trim().split(/\s+/)[1]);
}

/** Runs a command in a running container (as its user), as `kubectl exec` would through the kubelet. */
export async function execIn(node: RealNode, containerId: string, argv: string[]): Promise<string> {
  const { stdout } = await ctr(node, ['tasks', 'exec', '--exec-id', `test-${process.hrtime.bigint()}`, taskId(containerId), ...argv]);
  return stdout;
}

export interface ProcessFacts {
  uid: number[];
  capEff: bigint;
  noNewPrivs: boolean;
  /** 2 = filter (the runtime's default profile) */
  seccomp: number;
  rootReadOnly: boolean;
  memoryLimitBytes: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

/** What the kernel holds of a process: its ids, capabilities, seccomp, root mount and cgroup limits. */
export function processFacts(pid: number): ProcessFacts {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  // the last mount on / is the one the process sees (mounts stack)
  const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/').at(-1);
  const cgroups = Object.fromEntries(
    readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':')).map(([, c, path]) => [c!, path!]),
  );
  const cg = (controller: string, file: string) => Number(readFileSync(`/sys/fs/cgroup/${controller}${cgroups[controller]}/${file}`, 'utf8').trim());
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    capEff: BigInt(`0x${field('CapEff')}`),
    noNewPrivs: field('NoNewPrivs') === '1',
    seccomp: Number(field('Seccomp')),
    rootReadOnly: root?.split(' ')[5]?.split(',').includes('ro') ?? false,
    memoryLimitBytes: cg('memory', 'memory.limit_in_bytes'),
    cpuQuotaUs: cg('cpu', 'cpu.cfs_quota_us'),
    cpuPeriodUs: cg('cpu', 'cpu.cfs_period_us'),
  };
}
