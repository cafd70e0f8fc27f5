/**
 * Waits until the named node reports Ready, and gives up at once when one of its processes has exited.
 * Usage: node build/node/wait-node.mjs KUBECONFIG NODE SECONDS [PIDFILE ...]
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { existsSync, readFileSync } from 'node:fs';

const [kubeconfig, name, seconds, ...pidFiles] = process.argv.slice(2);
const alive = (file) => {
  if (!existsSync(file)) return true; // not started yet (images are still being imported)
  try { process.kill(Number(readFileSync(file, 'utf8')), 0); return true; } catch { return false; }
};
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const deadline = Date.now() + Number(seconds) * 1000;
let last = 'not registered yet';
while (Date.now() < deadline) {
  const dead = pidFiles.find((f) => !alive(f));
  if (dead) { console.error(`porthole-node: ${dead} has exited`); process.exit(1); }
  try {
    const node = await core.readNode({ name });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') process.exit(0);
    last = ready ? `${ready.reason}: ${ready.message}` : 'no Ready condition yet';
  } catch (e) {
    if (e?.code !== 404) last = String(e?.message ?? e);
  }
  await new Promise((r) => setTimeout(r, 500));
}
console.error(`porthole-node: ${name} not Ready after ${seconds} s (${last})`);
process.exit(1);
