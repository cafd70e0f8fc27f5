/**
 * After an install: is the agent really serving? Two checks, each a sentence:
 *  - its /readyz through its Service, as the API server's service proxy reaches it (the Service selects
 *    the pods, the pods answer, their caches of the cluster are current);
 *  - a smoke-test Session of a template, made as the admin, reaches Running (the agent's leader
 *    reconciled it into a pod that became Ready) and is deleted again, with the home volume it made.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { AGENT_NAME, GROUP, homeClaimName, SESSION_PLURAL, TEMPLATE_PLURAL, VERSION, type SessionResource } from '../kubernetes/resources.js';
import { buildSession } from '../kubernetes/session-objects.js';
import { AdminError, apiMessage, statusOf } from './cluster.js';

export interface VerifyStep {
  step: 'readyz' | 'session';
  ok: boolean;
  sentence: string;
  ms: number;
}

export interface VerifyOptions {
  /** the template the smoke session starts (default: the namespace's first) */
  template?: string;
  /** how long the smoke session may take to be Running */
  timeoutMs?: number;
  onStep?: (s: VerifyStep) => void;
  now?: () => number;
}

/** The user the smoke session runs as: no person signs in with it. */
export const SMOKE_USER = 'porthole-smoke-test';

async function readyz(kc: KubeConfig, namespace: string): Promise<Omit<VerifyStep, 'ms'>> {
  try {
    const body = await kc.makeApiClient(CoreV1Api).connectGetNamespacedServiceProxyWithPath({ name: `${AGENT_NAME}:http`, namespace, path: 'readyz' });
    // The client parses the agent's JSON ({status, checks}); say it as the agent does.
    const said = typeof body === 'string' ? body : JSON.stringify(body);
    return { step: 'readyz', ok: true, sentence: `the agent answers through its Service: ${said.slice(0, 200)}` };
  } catch (err) {
    const status = statusOf(err);
    if (status === 403) return { step: 'readyz', ok: false, sentence: `this kubeconfig may not reach the agent through the API server's service proxy (it needs get on services/proxy in namespace ${namespace})` };
    const why = status === 503 ? 'it is not ready yet, or no pod of it is' : apiMessage(err);
    return { step: 'readyz', ok: false, sentence: `the agent does not answer /readyz through its Service ${namespace}/${AGENT_NAME} (${why})` };
  }
}

async function smokeSession(kc: KubeConfig, namespace: string, o: VerifyOptions): Promise<Omit<VerifyStep, 'ms'>> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const templates = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: TEMPLATE_PLURAL })) as { items: Array<{ metadata: { name: string } }> };
  const template = o.template ?? templates.items[0]?.metadata.name;
  if (!template) return { step: 'session', ok: false, sentence: `namespace ${namespace} has no Template to start a smoke-test session of` };
  const name = `porthole-smoke-${randomBytes(4).toString('hex')}`;
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: SESSION_PLURAL, body: buildSession(name, namespace, SMOKE_USER, template) });
  const now = o.now ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const deadline = now() + timeoutMs;
  try {
    for (;;) {
      const last = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: SESSION_PLURAL, name })) as SessionResource;
      const phase = last.status?.phase;
      if (phase === 'Running') return { step: 'session', ok: true, sentence: `a smoke-test session of ${template} reached Running, and was removed` };
      if (phase === 'Failed') return { step: 'session', ok: false, sentence: `the smoke-test session of ${template} failed: ${last.status?.message ?? 'no reason given'}` };
      if (now() > deadline) {
        return { step: 'session', ok: false, sentence: `the smoke-test session of ${template} was not Running after ${Math.round(timeoutMs / 1000)} s (${phase ?? 'no phase'}${last.status?.message ? `: ${last.status.message}` : ''}); see kubectl -n ${namespace} describe session ${name}` };
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    // The session's pod and Secret go with it (owner references); its home volume is the smoke user's own.
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: SESSION_PLURAL, name }).catch(() => undefined);
    await kc.makeApiClient(CoreV1Api).deleteNamespacedPersistentVolumeClaim({ name: homeClaimName(SMOKE_USER), namespace }).catch(() => undefined);
  }
}

export interface Verified {
  /** both checks ran and passed */
  ok: boolean;
  steps: VerifyStep[];
}

/** How the command line and the app's progress lines mark a check. */
export const MARK = { ok: '✓', warning: '!', error: '✗' } as const;
export const stepMark = (s: { ok: boolean }) => (s.ok ? MARK.ok : MARK.error);

/** Runs both checks in order (the session only once the agent answers); reports each as it ends. */
export async function verify(kc: KubeConfig, namespace: string, o: VerifyOptions = {}): Promise<Verified> {
  const now = o.now ?? Date.now;
  const steps: VerifyStep[] = [];
  const run = async (check: () => Promise<Omit<VerifyStep, 'ms'>>) => {
    const started = now();
    let result: Omit<VerifyStep, 'ms'>;
    try {
      result = await check();
    } catch (err) {
      if (err instanceof AdminError) throw err;
      throw new AdminError(`verifying the install failed: ${apiMessage(err)}`);
    }
    const step = { ...result, ms: now() - started };
    steps.push(step);
    o.onStep?.(step);
    return step;
  };
  if ((await run(() => readyz(kc, namespace))).ok) await run(() => smokeSession(kc, namespace, o));
  return { ok: steps.length === 2 && steps.every((s) => s.ok), steps };
}
