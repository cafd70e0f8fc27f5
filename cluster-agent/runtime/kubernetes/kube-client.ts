/**
 * The API clients the runtime uses, and the few things every caller needs about their errors.
 * The one place that knows @kubernetes/client-node 1.x's calling conventions.
 */
import { existsSync } from 'node:fs';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { RuntimeError } from '../types.js';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
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

export function makeClients(kc: KubeConfig): KubeClients {
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), coordination: kc.makeApiClient(CoordinationV1Api) };
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
