/**
 * Warm pools, pure parts: which pods of a template are warm and ready, how many to add or remove, and
 * the patch that hands one to a session. Claiming is a merge patch carrying the resourceVersion the
 * claimer read, so two claimers racing for one pod cannot both win (the loser gets 409 and tries
 * the next pod).
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { LABELS, USER_ANNOTATION, type SessionResource, type TemplateResource } from '../../kubernetes/resources.js';
import { ownerReference, sessionLabels } from '../../kubernetes/session-objects.js';

export const isWarm = (pod: V1Pod, template: string) => pod.metadata?.labels?.[LABELS.warm] === 'true' && pod.metadata.labels[LABELS.template] === template;

const ready = (pod: V1Pod) =>
  pod.status?.phase === 'Running' && !!pod.status.podIP && (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

const broken = (pod: V1Pod) => pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';

/** Warm pods a start may claim now: ready, not being deleted, oldest first. */
export function claimable(pods: V1Pod[], template: string): V1Pod[] {
  return pods
    .filter((p) => isWarm(p, template) && !p.metadata?.deletionTimestamp && ready(p))
    .sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
}

export interface WarmPoolPlan {
  create: number;
  /** pods to delete: broken ones, and the newest beyond the wanted count */
  remove: string[];
}

export function planWarmPool(template: TemplateResource | undefined, templateName: string, pods: V1Pod[]): WarmPoolPlan {
  const want = template?.spec.warmPool?.replicas ?? 0;
  const mine = pods.filter((p) => isWarm(p, templateName) && !p.metadata?.deletionTimestamp);
  const bad = mine.filter(broken);
  const good = mine.filter((p) => !broken(p)).sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
  const excess = good.slice(want);
  return { create: Math.max(0, want - good.length), remove: [...bad, ...excess].map((p) => p.metadata!.name!) };
}

export function warmPodName(template: string): string {
  return `warm-${template.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The merge patch that gives a warm pod to a session: the session's labels (the warm label removed),
 * the user annotation, the Session as the only (controller) owner, guarded by resourceVersion.
 */
export function claimPatch(pod: V1Pod, session: SessionResource): Record<string, unknown> {
  return {
    metadata: {
      resourceVersion: pod.metadata!.resourceVersion,
      labels: { ...sessionLabels(session), [LABELS.warm]: null },
      annotations: { [USER_ANNOTATION]: session.spec.user },
      ownerReferences: [ownerReference(session)],
    },
  };
}

/** Pods that hold no session's desktop any more should go; true when the warm pool is its template's. */
export function templateOfWarmPod(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[LABELS.warm] === 'true' ? pod.metadata.labels[LABELS.template] : undefined;
}
