/**
 * Session and Template custom resources as the agent's API shows them. Pure.
 */
import type { Session } from '../../contract/index.js';
import type { SessionCRStatus, SessionResource, TemplateResource } from '../../kubernetes/resources.js';
import type { TemplateSpec } from '../types.js';
import { toMillis } from './session-status.js';

/** A replica's viewer count older than this is ignored (that replica died without saying goodbye). */
export const VIEWERS_STALE_MS = 3 * 60_000;
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 3600;

const iso = (v: Date | string | undefined): string | undefined => {
  const ms = toMillis(v);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

/** Pure: the devices other replicas show the session on, as their fresh reports say (roaming). */
export function devicesOfOtherReplicas(viewers: SessionCRStatus['viewers'], me: string, now: number): string[] {
  const devices = new Set<string>();
  for (const [replica, v] of Object.entries(viewers ?? {})) {
    const seen = toMillis(v.seenAt);
    if (replica === me || v.count <= 0 || Number.isNaN(seen) || now - seen >= VIEWERS_STALE_MS) continue;
    for (const d of v.devices ?? []) devices.add(d);
  }
  return [...devices];
}

/** Open streams across replicas, and the latest moment any replica saw a viewer. */
export function viewerSummary(status: SessionCRStatus | undefined, now: number): { connectedClients: number; lastActiveAt?: string } {
  let count = 0;
  let last = toMillis(status?.lastActiveAt);
  for (const v of Object.values(status?.viewers ?? {})) {
    const seen = toMillis(v.seenAt);
    if (Number.isNaN(seen)) continue;
    if (v.count > 0 && now - seen < VIEWERS_STALE_MS) count += v.count;
    if (Number.isNaN(last) || seen > last) last = seen;
  }
  // Someone is watching right now: that is activity as of now.
  if (count > 0) last = now;
  return { connectedClients: count, ...(Number.isNaN(last) ? {} : { lastActiveAt: new Date(last).toISOString() }) };
}

/** How many recent starts the estimate looks at. */
const START_SAMPLES = 20;

/**
 * The typical start time of a template, from the Sessions the cluster holds (every user's latest one):
 * the median of createdAt -> startedAt over the most recent starts. The launcher shows it as "usually
 * takes about N s"; undefined until a start of that template has been seen.
 */
export function expectedStartSeconds(sessions: SessionResource[], template: string): number | undefined {
  const samples = sessions
    .filter((s) => s.spec.template === template && s.status?.startedAt)
    .map((s) => ({ started: toMillis(s.status!.startedAt), created: toMillis(s.metadata.creationTimestamp as Date | string | undefined) }))
    .filter((x) => !Number.isNaN(x.started) && !Number.isNaN(x.created) && x.started >= x.created)
    .sort((a, b) => b.started - a.started)
    .slice(0, START_SAMPLES)
    .map((x) => (x.started - x.created) / 1000)
    .sort((a, b) => a - b);
  if (samples.length === 0) return undefined;
  const mid = Math.floor(samples.length / 2);
  const median = samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return Math.round(median * 10) / 10;
}

export function sessionView(cr: SessionResource, now: number, expectedStartSeconds?: number): Session {
  const st = cr.status ?? {};
  const createdAt = iso(cr.metadata.creationTimestamp as Date | string | undefined) ?? new Date(now).toISOString();
  const phase = st.phase ?? 'Pending';
  const terminal = phase === 'Stopped' || phase === 'Failed';
  const viewers = viewerSummary(st, now);
  return {
    id: cr.metadata.name!,
    user: cr.spec.user,
    template: cr.spec.template,
    phase,
    ...(st.message !== undefined ? { message: st.message } : phase === 'Pending' ? { message: 'Waiting for the cluster to create the desktop' } : {}),
    ...(st.reason !== undefined ? { reason: st.reason } : {}),
    createdAt,
    phaseSince: iso(st.phaseSince) ?? createdAt,
    ...(st.startedAt ? { startedAt: st.startedAt } : {}),
    ...(viewers.lastActiveAt ? { lastActiveAt: viewers.lastActiveAt } : {}),
    connectedClients: terminal ? 0 : viewers.connectedClients,
    ...(expectedStartSeconds !== undefined ? { expectedStartSeconds } : {}),
  };
}

export function templateSpecOf(t: TemplateResource): TemplateSpec {
  const s = t.spec;
  return {
    name: t.metadata.name!,
    displayName: s.displayName ?? t.metadata.name!,
    description: s.description ?? '',
    available: true,
    protocols: s.protocols?.length ? [...s.protocols] : ['vnc'],
    idleTimeoutSeconds: s.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
    ...(s.allowedUsers?.length ? { allowedUsers: [...s.allowedUsers] } : {}),
    ...(s.allowedGroups?.length ? { allowedGroups: [...s.allowedGroups] } : {}),
    ...(s.requireEnrolledDevice ? { requireEnrolledDevice: true } : {}),
  };
}
