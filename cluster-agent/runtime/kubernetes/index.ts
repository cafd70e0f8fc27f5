/**
 * The `kubernetes` runtime: Session/Template custom resources, one pod per session, informers, a
 * leader-elected reconciler. See docs/kubernetes.md.
 */
import type { Logger } from 'pino';
import type { SigningKey } from '../../agent/signing-key.js';
import { loadKubeConfig, makeClients } from './kube-client.js';
import { KubernetesRuntime, type KubernetesRuntimeOptions } from './runtime.js';
import { loadOrCreateSigningKeySecret } from './signing-key-secret.js';

export { KubernetesRuntime, type KubernetesRuntimeOptions } from './runtime.js';
export { loadKubeConfig, makeClients } from './kube-client.js';

export const DEFAULT_RUNTIME_NAMESPACE = 'porthole';

export interface CreateOptions extends Partial<Omit<KubernetesRuntimeOptions, 'clients' | 'namespace'>> {
  kubeconfig?: string;
  namespace?: string;
  logger?: Logger;
}

/**
 * The runtime (not yet initialised: the agent calls init()) and the signing-key loader that keeps the
 * token key in a Secret shared by every replica.
 */
export function createKubernetesRuntime(opts: CreateOptions): { runtime: KubernetesRuntime; loadSigningKey: () => Promise<SigningKey> } {
  const kc = loadKubeConfig(opts.kubeconfig);
  const clients = makeClients(kc);
  // In a pod the ServiceAccount's namespace is the natural default.
  const namespace = opts.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || DEFAULT_RUNTIME_NAMESPACE);
  const runtime = new KubernetesRuntime({ ...opts, clients, namespace });
  return { runtime, loadSigningKey: () => loadOrCreateSigningKeySecret(clients, namespace) };
}
