/**
 * The TURN shared secret in a Secret (`serve --turn-secret-name NAME`, what the install manifests pass):
 * the first agent replica to start creates it with 32 random bytes, the others get AlreadyExists and
 * read it, and coturn's pod mounts it. So no manifest carries a secret, and re-applying the manifests
 * never changes it. An admin may create it first (key `secret`) to choose the value; rotating it is
 * deleting it and restarting the agent, then coturn (docs/kubernetes.md, "TURN").
 */
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { TURN_SECRET_KEY } from '../../kubernetes/turn-manifests.js';
import { RuntimeError } from '../types.js';
import { apiMessage, isConflict, statusOf, type KubeClients } from './kube-client.js';

/** What coturn's config line and the init container's check accept (turn-manifests.ts). */
const SECRET_FORM = /^[A-Za-z0-9+/=_.-]{16,}$/;

export function turnSecret(namespace: string, name: string, secret: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, namespace, labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'turn' } },
    // Agent and coturn read it once at start; an edit in place would split them until both restart.
    immutable: true,
    data: { [TURN_SECRET_KEY]: Buffer.from(secret, 'utf8').toString('base64') },
  };
}

/** Pure: 32 random bytes as hex (64 characters, safe in coturn's config and in a shell variable). */
export function newTurnSecret(): string {
  return randomBytes(32).toString('hex');
}

export async function loadOrCreateTurnSecret(clients: KubeClients, namespace: string, name: string): Promise<string> {
  try {
    return await loadOrCreate(clients, namespace, name);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    const status = statusOf(err);
    if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
    if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not read or create the TURN Secret ${namespace}/${name} (${apiMessage(err)}): check its Role (\`porthole-agent manifests\`)`);
    throw new RuntimeError('unavailable', `Could not read or create the TURN Secret ${namespace}/${name}: ${apiMessage(err)}`);
  }
}

async function loadOrCreate(clients: KubeClients, namespace: string, name: string): Promise<string> {
  try {
    return fromSecret(await clients.core.readNamespacedSecret({ name, namespace }), namespace, name);
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
  const secret = newTurnSecret();
  try {
    await clients.core.createNamespacedSecret({ namespace, body: turnSecret(namespace, name, secret) });
    return secret;
  } catch (err) {
    if (!isConflict(err)) throw err;
    // Another replica created it between our read and our create: theirs is the secret.
    return fromSecret(await clients.core.readNamespacedSecret({ name, namespace }), namespace, name);
  }
}

function fromSecret(secret: V1Secret, namespace: string, name: string): string {
  const b64 = secret.data?.[TURN_SECRET_KEY];
  // Trailing newlines go, as `$(cat ...)` drops them in coturn's init container; nothing else is changed.
  const value = b64 === undefined ? '' : Buffer.from(b64, 'base64').toString('utf8').replace(/\n+$/, '');
  if (!SECRET_FORM.test(value)) {
    throw new RuntimeError(
      'bad_request',
      `The TURN Secret ${namespace}/${name} needs key "${TURN_SECRET_KEY}" of at least 16 letters, digits or +/=_.- (coturn's config carries it); delete it and the agent makes one`,
    );
  }
  return value;
}
