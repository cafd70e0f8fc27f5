/**
 * The agent's token-signing key in a Secret, so an access token issued by one replica verifies on
 * every other. Whichever replica starts first creates it; the others get AlreadyExists and read it.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { newSigningKeyPem, signingKeyFromPem, type SigningKey } from '../../agent/signing-key.js';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { RuntimeError } from '../types.js';
import { apiMessage, isConflict, statusOf, type KubeClients } from './kube-client.js';

export const SIGNING_KEY_SECRET = 'porthole-agent-signing-key';
const KEY = 'signing-key.pem';

export function signingKeySecret(namespace: string, pem: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: SIGNING_KEY_SECRET, namespace, labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'agent' } },
    immutable: true,
    data: { [KEY]: Buffer.from(pem, 'utf8').toString('base64') },
  };
}

export async function loadOrCreateSigningKeySecret(clients: KubeClients, namespace: string): Promise<SigningKey> {
  try {
    return await loadOrCreate(clients, namespace);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    const status = statusOf(err);
    // No HTTP status: nothing answered (wrong address, API server down, TLS failure).
    if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
    if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not read or create the Secret ${namespace}/${SIGNING_KEY_SECRET} (${apiMessage(err)}): check its Role (\`porthole-agent manifests\`)`);
    throw new RuntimeError('unavailable', `Could not read or create the signing-key Secret ${namespace}/${SIGNING_KEY_SECRET}: ${apiMessage(err)}`);
  }
}

async function loadOrCreate(clients: KubeClients, namespace: string): Promise<SigningKey> {
  try {
    const read = await clients.core.readNamespacedSecret({ name: SIGNING_KEY_SECRET, namespace });
    return fromSecret(read);
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
  const pem = newSigningKeyPem();
  try {
    await clients.core.createNamespacedSecret({ namespace, body: signingKeySecret(namespace, pem) });
    return signingKeyFromPem(pem);
  } catch (err) {
    if (!isConflict(err)) throw err;
    // Another replica created it between our read and our create: theirs is the key.
    return fromSecret(await clients.core.readNamespacedSecret({ name: SIGNING_KEY_SECRET, namespace }));
  }
}

function fromSecret(secret: V1Secret): SigningKey {
  const b64 = secret.data?.[KEY];
  if (!b64) throw new RuntimeError('unavailable', `Secret ${SIGNING_KEY_SECRET} has no ${KEY}; delete it and restart the agent to make a new key`);
  return signingKeyFromPem(Buffer.from(b64, 'base64').toString('utf8'));
}
