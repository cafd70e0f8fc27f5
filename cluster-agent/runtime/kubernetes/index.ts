/**
 * The `kubernetes` runtime: Session/Template custom resources, one pod per session, informers, a
 * leader-elected reconciler. See docs/kubernetes.md.
 */
import type { Logger } from 'pino';
import type { ConnectTokenLedger } from '../../state/connect-tokens.js';
import { KubernetesConnectTokenLedger } from './connect-token-ledger.js';
import { loadKubeConfig, makeClients, type KubeClients } from './kube-client.js';
import { KubernetesRuntime, type KubernetesRuntimeOptions } from './runtime.js';
import { loadOrCreateTurnSecret } from './turn-secret.js';

export { KubernetesRuntime, type KubernetesRuntimeOptions } from './runtime.js';
export { loadKubeConfig, makeClients } from './kube-client.js';

export const DEFAULT_RUNTIME_NAMESPACE = 'porthole';

export interface CreateOptions extends Partial<Omit<KubernetesRuntimeOptions, 'clients' | 'namespace'>> {
  kubeconfig?: string;
  namespace?: string;
  logger?: Logger;
}

/**
 * The runtime (not yet initialised: the agent calls init()), its API clients and namespace (the
 * composition root puts the agent's token and key stores there too: cluster-agent/state/kubernetes),
 * the ledger of used connect tokens (named Events on Sessions), and the TURN shared secret, when it is
 * kept in a Secret (`serve --turn-secret-name`).
 */
export function createKubernetesRuntime(opts: CreateOptions): {
  runtime: KubernetesRuntime;
  clients: KubeClients;
  namespace: string;
  connectTokenLedger: ConnectTokenLedger;
  loadTurnSecret: (name: string) => Promise<string>;
} {
  const kc = loadKubeConfig(opts.kubeconfig);
  const clients = makeClients(kc);
  // In a pod the ServiceAccount's namespace is the natural default.
  const namespace = opts.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || DEFAULT_RUNTIME_NAMESPACE);
  const runtime = new KubernetesRuntime({ ...opts, clients, namespace });
  return {
    runtime,
    clients,
    namespace,
    connectTokenLedger: new KubernetesConnectTokenLedger(clients, namespace, runtime.identity),
    loadTurnSecret: (name) => loadOrCreateTurnSecret(clients, namespace, name),
  };
}
