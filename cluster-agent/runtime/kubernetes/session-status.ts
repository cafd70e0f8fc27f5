/**
 * What the cluster says about a session's pod, turned into a phase and a sentence a person can act
 * on. Pure: (session, pod, clock, start timeout) -> the status the Session should have.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { SessionCRStatus, SessionResource } from '../../kubernetes/resources.js';

export type Phase = NonNullable<SessionCRStatus['phase']>;

/** The fields this module decides; viewers/lastActiveAt are the replicas' and are left alone. */
export interface DerivedStatus {
  phase: Phase;
  reason?: string;
  message?: string;
  podName?: string;
  podIP?: string;
  startedAt?: string;
  /** a problem a person should hear of while the session still waits (worth an Event); not stored */
  warning?: true;
}

export interface StatusInput {
  session: SessionResource;
  /** the session's pod (owned by this Session), if any */
  pod?: V1Pod;
  now: number;
  startTimeoutMs: number;
  /** the API server refused to create the pod, its Secret or its home PVC (e.g. 403 exceeded quota) */
  createError?: { status: number; message: string; what?: string };
  /** the last error of an earlier reconcile (said in the Timeout message) */
  lastError?: string;
}

/** Timestamps come as strings from watches and as Dates from typed lists; both are fine here. */
export function toMillis(v: Date | string | undefined | null): number {
  if (v === undefined || v === null) return NaN;
  return v instanceof Date ? v.getTime() : Date.parse(v);
}

const RESTART_HINT = 'Start the desktop again; files in your home folder are kept.';
const ADMIN_HINT = 'Ask an administrator to check the template.';

export const TERMINAL: ReadonlySet<Phase> = new Set(['Stopped', 'Failed']);

/** Restarts (restartPolicy OnFailure) after which a desktop that keeps exiting non-zero is Failed/Crashed. */
export const CRASH_RESTARTS = 3;

function seconds(ms: number): string {
  return String(Math.round(ms / 1000));
}

function desktop(c: V1ContainerStatus[] | undefined): V1ContainerStatus | undefined {
  return c?.find((x) => x.name === 'desktop') ?? c?.[0];
}

const podReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/**
 * The status a Session should have now. Terminal phases (Stopped, Failed) stick: a new start makes a
 * new Session. Stopping becomes Stopped once the pod is gone.
 */
export function deriveStatus(input: StatusInput): DerivedStatus {
  const { session, pod, now } = input;
  const current = session.status ?? {};
  const phase = current.phase ?? 'Pending';
  const keep = (over: Partial<DerivedStatus> = {}): DerivedStatus => ({
    phase,
    ...(current.reason !== undefined ? { reason: current.reason } : {}),
    ...(current.message !== undefined ? { message: current.message } : {}),
    ...(current.podName !== undefined ? { podName: current.podName } : {}),
    ...(current.podIP !== undefined ? { podIP: current.podIP } : {}),
    ...(current.startedAt !== undefined ? { startedAt: current.startedAt } : {}),
    ...over,
  });

  if (TERMINAL.has(phase)) return keep();
  if (phase === 'Stopping') {
    return pod ? keep() : { ...keep(), phase: 'Stopped', message: current.message ?? 'The desktop was stopped. Files in your home folder are kept.' };
  }

  const podName = pod?.metadata?.name;
  const ids = { ...(podName ? { podName } : {}), ...(pod?.status?.podIP ? { podIP: pod.status.podIP } : {}) };
  const failed = (reason: string, message: string): DerivedStatus => ({ phase: 'Failed', reason, message, ...ids, ...(current.startedAt ? { startedAt: current.startedAt } : {}) });

  if (input.createError) {
    const { status, message } = input.createError;
    const what = input.createError.what ?? "the desktop's pod";
    if (isQuotaError(status, message)) {
      return failed('Quota', `The namespace's resource quota has no room for ${what} (${message}). Stop another desktop, or ask an administrator to raise the quota.`);
    }
    if (status === 403 || status === 422 || status === 400) {
      return failed('Rejected', `The cluster refused ${what} (${message}). ${ADMIN_HINT}`);
    }
  }

  if (!pod) {
    // A Running session whose pod vanished: deleted by someone, or its node is gone.
    if (phase === 'Running') return failed('PodLost', `The desktop's pod was removed from the cluster. ${RESTART_HINT}`);
    return timedOut(input) ?? { phase: 'Pending', message: current.message && phase === 'Pending' ? current.message : 'Waiting for the cluster to create the desktop' };
  }

  const podPhase = pod.status?.phase;
  const container = desktop(pod.status?.containerStatuses);
  const waiting = container?.state?.waiting;
  const terminated = container?.state?.terminated;

  if (pod.metadata?.deletionTimestamp) {
    if (phase === 'Running') return keep({ message: "The desktop's pod is being deleted" });
  }
  if (podPhase === 'Succeeded' || (terminated && terminated.exitCode === 0 && podPhase !== 'Running')) {
    return { phase: 'Stopped', message: 'The desktop ended because its programs exited (you logged out).', ...ids };
  }
  if (waiting?.reason === 'InvalidImageName' || waiting?.reason === 'ImagePullBackOff' || waiting?.reason === 'ErrImageNeverPull') {
    return failed('ImagePullError', `The desktop image "${container?.image ?? ''}" cannot be pulled (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}). ${ADMIN_HINT}`);
  }
  if (waiting?.reason === 'CrashLoopBackOff') {
    const last = container?.lastState?.terminated;
    const how = last ? ` (exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ''})` : '';
    return failed('Crashed', `The desktop keeps crashing${how}. ${RESTART_HINT}`);
  }
  // restartPolicy OnFailure: one non-zero exit is restarted by the kubelet. It is a crash only when the
  // pod gave up (Failed), the kubelet backs off (above), or it has been restarted CRASH_RESTARTS times.
  const restarts = container?.restartCount ?? 0;
  const lastExit = terminated && terminated.exitCode !== 0 ? terminated : container?.lastState?.terminated;
  if (lastExit && lastExit.exitCode !== 0 && (podPhase === 'Failed' || restarts >= CRASH_RESTARTS)) {
    const why = [lastExit.reason, lastExit.message].filter(Boolean).join(': ');
    const times = restarts >= CRASH_RESTARTS ? `, restarted ${restarts} times` : '';
    return failed('Crashed', `The desktop stopped unexpectedly (exit code ${lastExit.exitCode}${why ? `, ${why}` : ''}${times}). ${RESTART_HINT}`);
  }
  if (podPhase === 'Failed') {
    const why = pod.status?.message ?? pod.status?.reason ?? 'no reason given';
    return failed(pod.status?.reason === 'Evicted' ? 'Evicted' : 'Crashed', `The desktop's pod failed (${why}). ${RESTART_HINT}`);
  }
  if (podPhase === 'Running' && pod.status?.podIP && podReady(pod)) {
    return { phase: 'Running', ...ids, startedAt: current.startedAt ?? new Date(now).toISOString() };
  }
  if (phase === 'Running') {
    // Was running, now not ready (Xvnc restarting, node trouble): say so but keep the session.
    return keep({ ...ids, message: 'The desktop is not answering right now; it may be restarting' });
  }
  const timeout = timedOut(input);
  if (timeout) return timeout;
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { phase: 'Pending', ...ids, warning: true, message: `No node can run this desktop yet: ${scheduled.message ?? 'the scheduler found no fitting node'}` };
  }
  if (!pod.spec?.nodeName) return { phase: 'Pending', ...ids, message: 'Waiting for a node to run the desktop' };
  if (terminated && terminated.exitCode !== 0) {
    return { phase: 'Starting', ...ids, warning: true, message: `The desktop exited (exit code ${terminated.exitCode}); the cluster is starting it again` };
  }
  if (waiting?.reason === 'ErrImagePull') return { phase: 'Starting', ...ids, warning: true, message: `Pulling the desktop image failed once, retrying: ${waiting.message ?? ''}`.trim() };
  if (waiting?.reason === 'ContainerCreating' || waiting?.reason === 'PodInitializing' || !container) {
    return { phase: 'Starting', ...ids, message: 'Starting the desktop (pulling the image, mounting the home folder)' };
  }
  return { phase: 'Starting', ...ids, message: 'Starting the desktop' };
}

/** A create refused by a ResourceQuota (403 "exceeded quota"). */
export function isQuotaError(status: number | undefined, message: string): boolean {
  return status === 403 && /exceeded quota/i.test(message);
}

/**
 * Failed/Timeout (or Unschedulable with the scheduler's words) once past the start deadline; undefined
 * before it. The reconciler asks this first on every pass of a session without a pod, so a session
 * whose Secret, PVC or pod cannot be made (errors retried with backoff) still ends.
 */
export function timedOut(input: StatusInput): DerivedStatus | undefined {
  const phase = input.session.status?.phase ?? 'Pending';
  if (phase !== 'Pending' && phase !== 'Starting') return undefined;
  const created = toMillis(input.session.metadata.creationTimestamp as Date | string | undefined);
  if (Number.isNaN(created) || input.now < created + input.startTimeoutMs) return undefined;
  const pod = input.pod;
  const ids = { ...(pod?.metadata?.name ? { podName: pod.metadata.name } : {}), ...(pod?.status?.podIP ? { podIP: pod.status.podIP } : {}) };
  const scheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const limit = seconds(input.startTimeoutMs);
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      phase: 'Failed',
      reason: 'Unschedulable',
      message: `No node could run this desktop within ${limit} seconds: ${scheduled.message ?? 'the scheduler found no fitting node'}. ${ADMIN_HINT}`,
      ...ids,
    };
  }
  const where = !pod
    ? `its pod was never created${input.lastError ? `; last error: ${input.lastError}` : ''}`
    : !pod.spec?.nodeName ? 'it was never placed on a node' : 'it did not become ready';
  return { phase: 'Failed', reason: 'Timeout', message: `The desktop did not start within ${limit} seconds (${where}). ${RESTART_HINT}`, ...ids };
}

/** When the session should be looked at again if nothing in the cluster changes (the start deadline). */
export function nextDeadline(session: SessionResource, startTimeoutMs: number, now: number): number | undefined {
  const phase = session.status?.phase ?? 'Pending';
  if (phase !== 'Pending' && phase !== 'Starting') return undefined;
  const created = toMillis(session.metadata.creationTimestamp as Date | string | undefined);
  if (Number.isNaN(created)) return undefined;
  return Math.max(0, created + startTimeoutMs - now);
}

/** True when the derived status differs from what the Session holds (so a patch is needed). */
export function statusChanged(current: SessionCRStatus | undefined, next: DerivedStatus): boolean {
  const c = current ?? {};
  return c.phase !== next.phase || c.reason !== next.reason || c.message !== next.message || c.podName !== next.podName || c.podIP !== next.podIP || c.startedAt !== next.startedAt;
}

/** The merge patch that moves status from current to next (null deletes a field), with phaseSince. */
export function statusPatch(current: SessionCRStatus | undefined, next: DerivedStatus, now: number): Record<string, unknown> {
  const c = current ?? {};
  const patch: Record<string, unknown> = {};
  for (const k of ['phase', 'reason', 'message', 'podName', 'podIP', 'startedAt'] as const) {
    if (c[k] !== next[k]) patch[k] = next[k] ?? null;
  }
  if (c.phase !== next.phase || !c.phaseSince) patch.phaseSince = new Date(now).toISOString();
  if (TERMINAL.has(next.phase)) patch.viewers = null;
  return patch;
}
