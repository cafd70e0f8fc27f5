/**
 * Admin mode's side of the launcher core: the same admin library `porthole-agent doctor|install|verify|uninstall` runs
 * (cluster-agent/admin/), with progress as events. Only made where admin mode is allowed (policy
 * `admin.enabled` or `--admin`), and served on its own bridge surface.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { PortholeError, type AdminApi, type AdminTarget, type LauncherEvent } from '../../bridge/contract.js';
import { AdminError, adminKubeConfig } from '../../cluster-agent/admin/cluster.js';
import { doctor } from '../../cluster-agent/admin/doctor.js';
import { install, plan, uninstall, waitForAgent } from '../../cluster-agent/admin/install.js';
import { stepMark, verify } from '../../cluster-agent/admin/verify.js';
import { agentStatus, deleteTemplate, listSessions, listTemplates, saveTemplate, stopSession } from '../../cluster-agent/admin/manage.js';
import { installManifests } from '../../cluster-agent/kubernetes/install-manifests.js';
import { AGENT_NAME } from '../../cluster-agent/kubernetes/resources.js';
import { Listeners } from './events.js';

/** Admin failures cross the bridge as sentences with the code `admin_failed`. */
async function asAdmin<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AdminError) throw new PortholeError('admin_failed', err.message);
    throw err;
  }
}

export function createAdminApi(opts: { waitSeconds?: number } = {}): AdminApi {
  const listeners = new Listeners<LauncherEvent>();
  const say = (line: string) => listeners.emit({ type: 'admin', line });
  const target = (t: AdminTarget) => ({
    kc: adminKubeConfig(t.kubeconfig || undefined, t.context),
    objects: installManifests({ namespace: t.namespace, ...(t.image ? { image: t.image } : {}) }) as KubernetesObject[],
  });
  const report = async (t: AdminTarget) => {
    const { kc, objects } = target(t);
    const r = await doctor(kc, objects, t.namespace);
    return { server: r.server, ...(r.version ? { version: r.version } : {}), checks: r.checks, ok: r.ok };
  };
  return {
    adminContexts: (file: string) =>
      asAdmin(async () => {
        const kc = adminKubeConfig(file || undefined);
        return {
          current: kc.getCurrentContext() || undefined,
          contexts: kc.getContexts().map((c) => ({ name: c.name, ...(kc.getCluster(c.cluster)?.server ? { server: kc.getCluster(c.cluster)!.server } : {}), ...(c.namespace ? { namespace: c.namespace } : {}) })),
        };
      }),
    adminDoctor: (t) => asAdmin(() => report(t)),
    adminPlan: (t) =>
      asAdmin(async () => {
        const { kc, objects } = target(t);
        return plan(kc, objects);
      }),
    adminInstall: (t) =>
      asAdmin(async () => {
        const started = Date.now();
        const doc = await report(t);
        if (!doc.ok) throw new AdminError(`doctor found problems, so nothing was changed: ${doc.checks.filter((c) => c.level === 'error').map((c) => c.sentence).join('; ')}`);
        const { kc, objects } = target(t);
        const done = await install(kc, objects, ({ index, total, object }) => say(`[${index}/${total}] ${object.action === 'create' ? 'created' : object.action === 'update' ? 'updated' : 'unchanged'} ${object.id}`));
        const wait = (opts.waitSeconds ?? 180) * 1000;
        await waitForAgent(kc, t.namespace, AGENT_NAME, wait, ({ ready, wanted, elapsedMs }) => say(`waiting for the agent: ${ready} of ${wanted} replicas available (${Math.round(elapsedMs / 1000)} s, at most ${wait / 1000} s)`));
        say('the agent is available');
        return { objects: done, seconds: Math.round((Date.now() - started) / 100) / 10 };
      }),
    adminVerify: (t) => asAdmin(() => verify(target(t).kc, t.namespace, { onStep: (s) => say(`${stepMark(s)} ${s.sentence}`) })),
    adminUninstall: (t, o) =>
      asAdmin(async () => {
        const { kc, objects } = target(t);
        let deleted = 0;
        await uninstall(kc, objects, t.namespace, { deleteHomes: o.deleteHomes }, (id, result) => {
          if (result === 'deleted') deleted++;
          say(`${result} ${id}`);
        });
        return { deleted, kept: [...(o.deleteHomes ? [] : ['the home volumes']), 'the CRDs (other installs may use them)'] };
      }),
    adminAgent: (t) => asAdmin(() => agentStatus(target(t).kc, t.namespace)),
    adminTemplates: (t) => asAdmin(() => listTemplates(target(t).kc, t.namespace)),
    adminSaveTemplate: (t, x) => asAdmin(() => saveTemplate(target(t).kc, t.namespace, x.name, x.spec, x.dryRun)),
    adminDeleteTemplate: (t, name) => asAdmin(() => deleteTemplate(target(t).kc, t.namespace, name)),
    adminSessions: (t) => asAdmin(() => listSessions(target(t).kc, t.namespace)),
    adminStopSession: (t, name) => asAdmin(() => stopSession(target(t).kc, t.namespace, name)),
    onEvent: (listener) => listeners.add(listener),
  };
}
