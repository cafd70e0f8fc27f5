/**
 * The `restricted` Pod Security Standard as pure checks on a pod spec, for the tests of the pods the
 * project builds (session and warm-pool pods, the agent's, coturn's). test/cluster/pod-security.test.ts
 * shows the same pods admitted by a real API server enforcing it.
 */
import type { V1Pod } from '@kubernetes/client-node';

/** The `restricted` Pod Security Standard (v1.30 rules) as checks on a pod spec; each failure is a sentence. */
export function restrictedViolations(pod: V1Pod): string[] {
  const out: string[] = [];
  const spec = pod.spec!;
  const psc = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) out.push('host namespaces');
  const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const v of spec.volumes ?? []) {
    const kinds = Object.keys(v).filter((k) => k !== 'name');
    for (const k of kinds) if (!allowedVolumes.includes(k)) out.push(`volume type ${k}`);
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation must be false`);
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${c.name}: runAsNonRoot`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile`);
    if (!sc.capabilities?.drop?.includes('ALL')) out.push(`${c.name}: capabilities must drop ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') out.push(`${c.name}: adds ${cap}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${c.name}: hostPort`);
  }
  return out;
}
