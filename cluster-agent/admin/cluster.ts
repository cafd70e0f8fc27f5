/**
 * The admin's connection to a cluster: a kubeconfig and context, and server-side apply through the
 * generic object API (what `kubectl apply --server-side` does), as field manager `porthole-installer`.
 */
import { existsSync } from 'node:fs';
import { HttpMethod, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';

export const FIELD_MANAGER = 'porthole-installer';

export class AdminError extends Error {
  override name = 'AdminError';
}

/** The kubeconfig (a file, else $KUBECONFIG / ~/.kube/config) at the context asked for. */
export function adminKubeConfig(file?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    if (!existsSync(file)) throw new AdminError(`--kubeconfig ${file} does not exist`);
    kc.loadFromFile(file);
  } else kc.loadFromDefault();
  if (context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === context)) throw new AdminError(`the kubeconfig has no context "${context}" (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new AdminError('No Kubernetes cluster in the kubeconfig: pass --kubeconfig FILE (and --context) or set KUBECONFIG');
  return kc;
}

export class ObjectApi extends KubernetesObjectApi {
  static for(kc: KubeConfig): ObjectApi {
    const api = kc.makeApiClient(ObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  /** Server-side apply (forced: the installer owns what it installs); `dryRun` stores nothing. */
  async apply(object: KubernetesObject, dryRun = false): Promise<KubernetesObject> {
    const path = await this.specUriPath(object, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', FIELD_MANAGER);
    ctx.setQueryParam('force', 'true');
    if (dryRun) ctx.setQueryParam('dryRun', 'All');
    ctx.setBody(JSON.stringify(object));
    return this.requestPromise(ctx);
  }

  /** The object as stored, or undefined when there is none. */
  async current(object: KubernetesObject): Promise<KubernetesObject | undefined> {
    try {
      return await this.read(object as KubernetesObject & { metadata: { name: string } });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }
}

export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  return typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
}

/** The API server's own sentence for a refusal. */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // plain text
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : (e.message ?? String(err)).split('\n')[0]!;
}

export const idOf = (o: KubernetesObject) => `${o.kind}/${o.metadata?.name}${o.metadata?.namespace ? ` in ${o.metadata.namespace}` : ''}`;
