/**
 * The keyring in a Secret, so an access token issued by one replica verifies on every other and a
 * rotation reaches them all. Whichever replica starts first creates it; the others get AlreadyExists
 * and read it. A rotation replaces it with the resourceVersion it read (two at once: one wins, the other
 * re-reads and rotates the new ring). An agent from before rotation kept one key in the immutable Secret
 * `porthole-agent-signing-key`: that key becomes the ring's first, so its tokens stay valid.
 */
import { isConflict, isNotFound, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';
import { SecretDocument } from './secret-document.js';
import { KeyringDoc, newKeyring, newSigningKeyPem, rotateKeyring, type SigningKeyStore } from '../signing-keys.js';

export const SIGNING_KEYS_SECRET = 'porthole-agent-signing-keys';
export const LEGACY_SIGNING_KEY_SECRET = 'porthole-agent-signing-key';
const KEY = 'keys.json';
const LEGACY_KEY = 'signing-key.pem';
const ATTEMPTS = 5;

export class KubernetesSigningKeyStore implements SigningKeyStore {
  private readonly secret: SecretDocument<KeyringDoc>;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = new SecretDocument(clients, namespace, SIGNING_KEYS_SECRET, KEY, KeyringDoc, 'delete it and restart the agent to make a new key (everyone signs in again)');
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
    return this.secret.guard(async () => {
      const found = await this.secret.read();
      if (found) return found.doc;
      const doc = newKeyring((await this.legacyPem()) ?? newSigningKeyPem(), this.now());
      try {
        await this.secret.create(doc);
        return doc;
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Another replica created it between our read and our create: theirs is the ring.
        const theirs = await this.secret.read();
        if (!theirs) throw err;
        return theirs.doc;
      }
    });
  }

  rotate(overlapSeconds?: number): Promise<KeyringDoc> {
    return this.secret.guard(async () => {
      for (let i = 0; i < ATTEMPTS; i++) {
        await this.load();
        const found = await this.secret.read();
        if (!found) continue;
        const doc = rotateKeyring(found.doc, newSigningKeyPem(), this.now(), overlapSeconds);
        try {
          await this.secret.replace(doc, found.resourceVersion);
          return doc;
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err)) throw err;
        }
      }
      throw new RuntimeError('unavailable', `The ${this.secret.where} kept changing during the rotation; try again`);
    });
  }
}
