/**
 * The admin steps as the command line runs them (`porthole-agent doctor|install|verify|uninstall`): the same
 * library calls the launcher's admin mode makes, with their progress written as lines.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { AGENT_NAME } from '../kubernetes/resources.js';
import { installManifests, type ManifestOptions } from '../kubernetes/install-manifests.js';
import { adminKubeConfig } from './cluster.js';
import { doctor, type DoctorReport } from './doctor.js';
import { install, plan, uninstall, waitForAgent } from './install.js';
import { MARK, stepMark, verify } from './verify.js';

export interface AdminCommand {
  action: 'doctor' | 'install' | 'verify' | 'uninstall';
  /** verify: the template of the smoke-test session */
  template?: string;
  kubeconfig?: string;
  context?: string;
  namespace: string;
  image?: string;
  dryRun: boolean;
  waitSeconds: number;
  deleteHomes: boolean;
  deleteCrds: boolean;
}


export function doctorLines(r: DoctorReport): string[] {
  return [`doctor: ${r.server}${r.version ? ` (Kubernetes ${r.version})` : ''}`, ...r.checks.map((c) => `  ${MARK[c.level]} ${c.sentence}${c.fix ? `\n      fix: ${c.fix}` : ''}`)];
}

/** Runs one admin step; `out` gets progress lines. Resolves with the exit code. */
export async function runAdminCommand(cmd: AdminCommand, out: (line: string) => void): Promise<number> {
  const kc = adminKubeConfig(cmd.kubeconfig, cmd.context);
  const opts: ManifestOptions = { namespace: cmd.namespace, ...(cmd.image ? { image: cmd.image } : {}) };
  const objects = installManifests(opts) as KubernetesObject[];
  if (cmd.action === 'uninstall') {
    const kept = [cmd.deleteHomes ? undefined : 'the home volumes', cmd.deleteCrds ? undefined : 'the CRDs (other installs may use them)'].filter(Boolean);
    out(`uninstall: ${objects.length} objects from namespace ${cmd.namespace}${kept.length ? `; keeping ${kept.join(' and ')}` : ''}`);
    await uninstall(kc, objects, cmd.namespace, { deleteHomes: cmd.deleteHomes, deleteCrds: cmd.deleteCrds }, (id, result) => out(`  ${result} ${id}`));
    return 0;
  }
  if (cmd.action === 'verify') {
    out(`verify: the agent in namespace ${cmd.namespace}`);
    const verified = await verify(kc, cmd.namespace, { ...(cmd.template ? { template: cmd.template } : {}), timeoutMs: cmd.waitSeconds * 1000, onStep: (s) => out(`  ${stepMark(s)} ${s.sentence} (${(s.ms / 1000).toFixed(1)} s)`) });
    return verified.ok ? 0 : 1;
  }
  const report = await doctor(kc, objects, cmd.namespace);
  for (const line of doctorLines(report)) out(line);
  if (cmd.action === 'doctor') return report.ok ? 0 : 1;
  if (!report.ok) {
    out('install: refused before changing anything; fix what doctor says first');
    return 1;
  }
  if (cmd.dryRun) {
    const steps = await plan(kc, objects);
    out(`plan (server-side dry run, nothing changed): ${steps.filter((s) => s.action !== 'unchanged').length} of ${steps.length} objects would change`);
    for (const s of steps) out(`  ${s.action.padEnd(9)} ${s.id}`);
    return 0;
  }
  const started = Date.now();
  await install(kc, objects, ({ index, total, object }) => out(`  [${index}/${total}] ${object.action === 'create' ? 'created' : object.action === 'update' ? 'updated' : 'unchanged'} ${object.id}`));
  let lastSaid = '';
  await waitForAgent(kc, cmd.namespace, AGENT_NAME, cmd.waitSeconds * 1000, ({ ready, wanted, elapsedMs, timeoutMs }) => {
    const line = `  waiting for the agent: ${ready} of ${wanted} replicas available (${Math.round(elapsedMs / 1000)} s, at most ${Math.round(timeoutMs / 1000)} s)`;
    if (line.replace(/\(\d+ s/, '') !== lastSaid.replace(/\(\d+ s/, '') || elapsedMs % 10_000 < 1000) out(line);
    lastSaid = line;
  });
  out(`install: done in ${((Date.now() - started) / 1000).toFixed(1)} s; the agent is available in namespace ${cmd.namespace}`);
  return 0;
}
