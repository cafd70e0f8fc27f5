/**
 * Small helpers for tests against the real control plane: unique namespaces, server-side apply of the
 * install manifests in their wire form, the CRDs, raw requests, and reading an API error's status.
 */
import { request } from 'node:https';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { sessionCrd, templateCrd } from '../../cluster-agent/kubernetes/crds.js';
import { toWire } from '../../cluster-agent/kubernetes/install-manifests.js';
import { GROUP, SESSION_PLURAL, sessionName, VERSION, type SessionResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildSession } from '../../cluster-agent/kubernetes/session-objects.js';
import { waitFor } from './processes.js';

/** The field manager `kubectl apply --server-side` would be told to use for our manifests. */
export const FIELD_MANAGER = 'porthole';

/**
 * Server-side apply of an object exactly as `porthole-agent manifests` prints it. The body is sent as
 * is (JSON is YAML): KubernetesObjectApi.patch would first pass it through the typed model serializer,
 * which expects model names (`_from`, `_enum`) and silently drops the wire names (`from`, `enum`).
 */
export class ServerSideApply extends KubernetesObjectApi {
  static for(kc: KubeConfig): ServerSideApply {
    const client = kc.makeApiClient(ServerSideApply);
    client.setDefaultNamespace(kc);
    return client;
  }

  async apply(object: object, opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<KubernetesObject> {
    const path = await this.specUriPath(object as KubernetesObject, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', opts.fieldManager ?? FIELD_MANAGER);
    if (opts.dryRun) ctx.setQueryParam('dryRun', 'All');
    ctx.setBody(JSON.stringify(object));
    return this.requestPromise(ctx);
  }
}

/** An API error's HTTP status and the API server's message (client-node 1.x ApiException). */
export function apiError(error: unknown): { code: number; message: string; reason?: string } {
  const e = error as { code?: number; statusCode?: number; body?: unknown; message?: string };
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the text
    }
  }
  const status = (body ?? {}) as { message?: string; reason?: string };
  return { code: e.code ?? e.statusCode ?? 0, message: status.message ?? (typeof body === 'string' ? body : (e.message ?? '')), ...(status.reason ? { reason: status.reason } : {}) };
}

/** Resolves with the API error of a call that must fail; throws if it succeeded. */
export async function refusal(call: () => Promise<unknown>): Promise<{ code: number; message: string; reason?: string }> {
  try {
    await call();
  } catch (error) {
    return apiError(error);
  }
  throw new Error('the API server accepted a call that should have been refused');
}

let counter = 0;
/** A namespace name no other test (or parallel run) uses: prefix-pid-time-n, within 63 characters. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`.slice(0, 63);
}

export async function createNamespace(kc: KubeConfig, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/** Deletes namespaces (the namespace controller removes their contents); already gone is fine. */
export async function deleteNamespaces(kc: KubeConfig, names: string[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(
    names.map((name) =>
      core.deleteNamespace({ name }).catch((e: unknown) => {
        if (apiError(e).code !== 404) throw e;
      }),
    ),
  );
}

/**
 * The Session and Template CRDs, applied for real and Established. Cluster-scoped and shared by every
 * test file of a run (they are never deleted; the cluster goes at the end of the run). Applying the
 * same definition again is a no-op, so concurrent files do not conflict.
 */
export async function ensureCrds(kc: KubeConfig): Promise<void> {
  const ssa = ServerSideApply.for(kc);
  for (const crd of [sessionCrd(), templateCrd()]) await ssa.apply(toWire('V1CustomResourceDefinition', crd));
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await waitFor('the CRDs to be Established', async () => {
    const list = await ext.listCustomResourceDefinition();
    const established = (name: string) =>
      list.items.find((c) => c.metadata?.name === name)?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    return established('sessions.porthole.dev') && established('templates.porthole.dev');
  });
}

/** A real Session of user+template (as the runtime names it), read back with its uid for owner references. */
export async function createSessionResource(kc: KubeConfig, namespace: string, user: string, template: string): Promise<SessionResource> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: SESSION_PLURAL,
    body: buildSession(sessionName(user, template), namespace, user, template),
  })) as SessionResource;
}

/** A request the typed clients do not make (e.g. POST pods/exec): status code and body text. */
export async function rawRequest(kc: KubeConfig, method: string, path: string): Promise<{ status: number; body: string }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(path, server);
  const opts: Parameters<typeof request>[1] = { method, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
