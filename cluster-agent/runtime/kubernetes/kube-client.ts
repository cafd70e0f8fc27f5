/**
 * The API clients the runtime uses, and the few things every caller needs about their errors.
 * The one place that knows @kubernetes/client-node 1.x's calling conventions.
 */
import { existsSync } from 'node:fs';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  PatchStrategy,
  ServerConfiguration,
  setHeaderOptions,
  Watch,
  type Configuration,
  type RequestContext,
} from '@kubernetes/client-node';
import { Counter } from 'prom-client';
import { RuntimeError } from '../types.js';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  /** for ListWatch: counts each watch it opens */
  watch: Watch;
  /** every request these clients send, by verb, resource and HTTP status; registered on the agent's /metrics */
  requests: Counter<'verb' | 'resource' | 'code'>;
}

export const REQUESTS_METRIC = 'porthole_kubernetes_requests_total';

/**
 * Pure: the Kubernetes verb and resource of a request, as the API server's audit log would name them
 * (`list` vs `get` by whether the path names an object; `pods/status` for a subresource).
 */
export function requestKind(method: string, url: string): { verb: string; resource: string } {
  const u = new URL(url, 'http://x');
  let parts = u.pathname.split('/').filter(Boolean);
  // /api/v1/... or /apis/GROUP/VERSION/...
  parts = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : parts;
  if (parts[0] === 'namespaces' && parts.length > 2) parts = parts.slice(2);
  const [resource = 'unknown', name, sub] = parts;
  const m = method.toUpperCase();
  const verb =
    u.searchParams.get('watch') === 'true' ? 'watch'
    : m === 'GET' ? (name === undefined ? 'list' : 'get')
    : m === 'POST' ? 'create'
    : m === 'PUT' ? 'update'
    : m === 'PATCH' ? 'patch'
    : m === 'DELETE' ? (name === undefined ? 'deletecollection' : 'delete')
    : m.toLowerCase();
  return { verb, resource: sub ? `${resource}/${sub}` : resource };
}

/**
 * --kubeconfig FILE, else in-cluster (ServiceAccount), else $KUBECONFIG / ~/.kube/config.
 * A missing file is a sentence, not a stack trace.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    if (!existsSync(file)) throw new RuntimeError('bad_request', `--kubeconfig ${file} does not exist`);
    kc.loadFromFile(file);
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) throw new RuntimeError('bad_request', 'No Kubernetes cluster configured: pass --kubeconfig FILE, set KUBECONFIG, or run the agent in a pod');
  return kc;
}

/**
 * The API clients, counting every request they send. Counted in the configuration's HTTP library, not
 * in a middleware: client-node 1.3 applies configuration middleware only to calls that pass options
 * of their own (its generated ObservableAPI starts from an empty middleware list otherwise), while
 * `configuration.httpApi.send` is on every call's path. Watches do not go through the typed clients
 * (Watch uses fetch directly), so `watch` is a Watch that counts the ones it opens.
 */
export function makeClients(kc: KubeConfig): KubeClients {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new RuntimeError('bad_request', 'No Kubernetes cluster configured');
  const requests = new Counter({
    name: REQUESTS_METRIC,
    help: 'Requests the Kubernetes runtime sent to the API server, by verb (get, list, watch, create, patch, update, delete), resource and HTTP status code ("error": no answer)',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [],
  });
  const count = (method: string, url: string, code: number | string) => requests.inc({ ...requestKind(method, url), code: String(code) });
  const reuse = keepAliveAgents();
  // What kc.makeApiClient builds, with the HTTP library wrapped.
  const base = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc } });
  const config: Configuration = createConfiguration({
    baseServer: base.baseServer,
    authMethods: { default: kc },
    httpApi: {
      send: (ctx: RequestContext) => {
        const agent = reuse(ctx.getAgent());
        if (agent) ctx.setAgent(agent);
        const answered = base.httpApi
          .send(ctx)
          .toPromise()
          .then(
            (res) => {
              count(ctx.getHttpMethod(), ctx.getUrl(), res.httpStatusCode);
              return res;
            },
            (err: unknown) => {
              count(ctx.getHttpMethod(), ctx.getUrl(), 'error');
              throw err;
            },
          );
        return new Observable(answered);
      },
    },
  });
  class CountingWatch extends Watch {
    override async watch(...[path, query, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
      // Watch.watch returns once the response has started; a refused or failed one has called done by then.
      let failed: unknown;
      const controller = await super.watch(path, query, callback, (err) => {
        failed ??= err ?? null;
        done(err);
      });
      const code = failed === undefined ? 200 : ((failed as { statusCode?: number } | null)?.statusCode ?? 'error');
      count('GET', `${path}?watch=true`, code);
      return controller;
    }
  }
  return {
    kc,
    core: new CoreV1Api(config),
    custom: new CustomObjectsApi(config),
    coordination: new CoordinationV1Api(config),
    watch: new CountingWatch(kc),
    requests,
  };
}

/**
 * client-node 1.3 gives every request a new https.Agent (KubeConfig.applySecurityAuthentication), so
 * every request opened a new TCP connection with a full TLS handshake (client certificate included):
 * most of the agent's CPU under load, and much of the API server's. This swaps in one keep-alive agent
 * per set of TLS options (CA, client certificate and key as read for this request), so connections are
 * reused, and a rotated certificate still gets a new agent (the old one is closed a minute later).
 * Proxy agents and plain HTTP are left alone.
 */
type RequestAgent = ReturnType<RequestContext['getAgent']>;

function keepAliveAgents(): (agent: RequestAgent) => RequestAgent {
  let current: { key: string; agent: HttpsAgent } | undefined;
  const keyOf = (o: AgentOptions) =>
    [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]
      .map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : Array.isArray(v) ? v.map(String).join(',') : String(v)))
      .join('|');
  return (agent) => {
    if (!(agent instanceof HttpsAgent) || agent.constructor !== HttpsAgent) return agent;
    const options = (agent as HttpsAgent & { options: AgentOptions }).options;
    const key = keyOf(options);
    if (current?.key !== key) {
      const old = current;
      if (old) setTimeout(() => old.agent.destroy(), 60_000).unref();
      // Idle sockets are closed after 30 s, well before the API server's own idle timeout (90 s), so a
      // request never goes out on a connection the server is closing.
      current = { key, agent: new HttpsAgent({ ...options, keepAlive: true, timeout: 30_000 }) };
    }
    return current.agent;
  };
}

/** 1.x sends JSON Patch by default; our patches are JSON merge patches (RFC 7386). */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own sentence (Status.message), else the error's. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return (body as string) || `HTTP ${err.code}`;
      }
    }
    const m = (body as { message?: unknown } | undefined)?.message;
    return typeof m === 'string' ? m : `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export const isNotFound = (err: unknown) => statusOf(err) === 404;
/** AlreadyExists on create, and Conflict on a failed resourceVersion/uid precondition: both 409. */
export const isConflict = (err: unknown) => statusOf(err) === 409;

export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
