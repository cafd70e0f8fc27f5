/**
 * The keyring in a Secret, so an access token issued by one replica verifies on every other and a
 * rotation reaches them all. Whichever replica starts first creates it; the others get AlreadyExists
 * and read it. A rotation replaces it with the resourceVersion it read (two at once: one wins, the other
 * re-reads and rotates the new ring). An agent from before rotation kept one key in the immutable Secret
 * `porthole-agent-signing-key`: that key becomes the ring's first, so its tokens stay valid.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { apiMessage, isConflict, isNotFound, statusOf, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';
import { KeyringDoc, newKeyring, newSigningKeyPem, rotateKeyring, type SigningKeyStore } from '../signing-keys.js';

export const SIGNING_KEYS_SECRET = 'porthole-agent-signing-keys';
export const LEGACY_SIGNING_KEY_SECRET = 'porthole-agent-signing-key';
const KEY = 'keys.json';
const LEGACY_KEY = 'signing-key.pem';
const ATTEMPTS = 5;

export function signingKeysSecret(namespace: string, doc: KeyringDoc, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: SIGNING_KEYS_SECRET,
      namespace,
      labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'agent' },
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    data: { [KEY]: Buffer.from(JSON.stringify(doc), 'utf8').toString('base64') },
  };
}

export class KubernetesSigningKeyStore implements SigningKeyStore {
  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly now: () => number = Date.now,
  ) {}

  private where(): string {
    return `${this.namespace}/${SIGNING_KEYS_SECRET}`;
  }

  /** API failures as one sentence a person can act on. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      const status = statusOf(err);
      // No HTTP status: nothing answered (wrong address, API server down, TLS failure).
      if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${this.clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
      if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not read or write the Secret ${this.where()} (${apiMessage(err)}): check its Role (\`porthole-agent manifests\`)`);
      throw new RuntimeError('unavailable', `Could not read or write the signing-key Secret ${this.where()}: ${apiMessage(err)}`);
    }
  }

  private async read(): Promise<{ doc: KeyringDoc; resourceVersion?: string } | undefined> {
    let s: V1Secret;
    try {
      s = await this.clients.core.readNamespacedSecret({ name: SIGNING_KEYS_SECRET, namespace: this.namespace });
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
    const parsed = KeyringDoc.safeParse(json);
    if (!parsed.success) throw new RuntimeError('unavailable', `Secret ${this.where()} holds no signing keyring; delete it and restart the agent to make a new key (everyone signs in again)`);
    return { doc: parsed.data, ...(s.metadata?.resourceVersion !== undefined ? { resourceVersion: s.metadata.resourceVersion } : {}) };
  }

  /** The pre-rotation key, if that Secret exists: kept so tokens it signed stay valid across the upgrade. */
  private async legacyPem(): Promise<string | undefined> {
    try {
      const s = await this.clients.core.readNamespacedSecret({ name: LEGACY_SIGNING_KEY_SECRET, namespace: this.namespace });
      const b64 = s.data?.[LEGACY_KEY];
      return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  load(): Promise<KeyringDoc> {
    return this.guard(async () => {
      const found = await this.read();
      if (found) return found.doc;
      const doc = newKeyring((await this.legacyPem()) ?? newSigningKeyPem(), this.now());
      try {
        await this.clients.core.createNamespacedSecret({ namespace: this.namespace, body: signingKeysSecret(this.namespace, doc) });
        return doc;
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Another replica created it between our read and our create: theirs is the ring.
        const theirs = await this.read();
        if (!theirs) throw err;
        return theirs.doc;
      }
    });
  }

  rotate(overlapSeconds?: number): Promise<KeyringDoc> {
    return this.guard(async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        await this.load();
        const found = await this.read();
        if (!found) continue;
        const doc = rotateKeyring(found.doc, newSigningKeyPem(), this.now(), overlapSeconds);
        try {
          await this.clients.core.replaceNamespacedSecret({ name: SIGNING_KEYS_SECRET, namespace: this.namespace, body: signingKeysSecret(this.namespace, doc, found.resourceVersion) });
          return doc;
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err)) throw err;
        }
      }
      throw new RuntimeError('unavailable', `The Secret ${this.where()} kept changing during the rotation; try again`);
    });
  }
}
