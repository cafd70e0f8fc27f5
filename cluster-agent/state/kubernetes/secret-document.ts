/**
 * One JSON document kept in one Secret of the agent's (the signing keyring, the enrolled devices): read
 * it with its resourceVersion, create it, replace it only if nobody changed it since (a conflict means
 * read again), and every API failure as one sentence a person can act on.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { z } from 'zod';
import { AGENT_NAME, LABELS } from '../../kubernetes/resources.js';
import { apiMessage, isNotFound, statusOf, type KubeClients } from '../../runtime/kubernetes/kube-client.js';
import { RuntimeError } from '../../runtime/types.js';

export class SecretDocument<T> {
  readonly where: string;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly name: string,
    private readonly key: string,
    private readonly schema: z.ZodType<T>,
    /** what to do when the Secret holds something else (the sentence's end) */
    private readonly whenDamaged: string,
  ) {
    this.where = `Secret ${namespace}/${name}`;
  }

  body(doc: T, resourceVersion?: string): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'agent' },
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      data: { [this.key]: Buffer.from(JSON.stringify(doc), 'utf8').toString('base64') },
    };
  }

  /** API failures as one sentence: unreachable, not allowed (the Role), or what the server said. */
  async guard<R>(fn: () => Promise<R>, passThrough: (err: unknown) => boolean = () => false): Promise<R> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RuntimeError || passThrough(err)) throw err;
      const status = statusOf(err);
      // No HTTP status: nothing answered (wrong address, API server down, TLS failure).
      if (status === undefined) throw new RuntimeError('unavailable', `Cannot reach the Kubernetes API server at ${this.clients.kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)'}: ${apiMessage(err)}`);
      if (status === 401 || status === 403) throw new RuntimeError('unavailable', `The agent may not read or write the ${this.where} (${apiMessage(err)}): check its Role (\`porthole-agent manifests\`)`);
      throw new RuntimeError('unavailable', `Could not read or write the ${this.where}: ${apiMessage(err)}`);
    }
  }

  /** The document and the version it was read at, or undefined when the Secret does not exist. */
  async read(): Promise<{ doc: T; resourceVersion?: string } | undefined> {
    let s: V1Secret;
    try {
      s = await this.clients.core.readNamespacedSecret({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(s.data?.[this.key] ?? '', 'base64').toString('utf8'));
    } catch {
      json = undefined;
    }
    const parsed = this.schema.safeParse(json);
    if (!parsed.success) throw new RuntimeError('unavailable', `The ${this.where} holds something else; ${this.whenDamaged}`);
    return { doc: parsed.data, ...(s.metadata?.resourceVersion !== undefined ? { resourceVersion: s.metadata.resourceVersion } : {}) };
  }

  async create(doc: T): Promise<void> {
    await this.clients.core.createNamespacedSecret({ namespace: this.namespace, body: this.body(doc) });
  }

  /** Replaces it if it is still at `resourceVersion` (else the API server answers 409: read again). */
  async replace(doc: T, resourceVersion: string | undefined): Promise<void> {
    await this.clients.core.replaceNamespacedSecret({ name: this.name, namespace: this.namespace, body: this.body(doc, resourceVersion) });
  }
}
