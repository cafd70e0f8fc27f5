/**
 * Roaming across replicas: the replica that opens a stream with a takeover writes it on the Session as
 * an annotation (device, time, replica); every replica's Session informer sees it, and the others end
 * their streams of that session from other devices (agent/viewers.ts), as the one replica does locally.
 * An annotation, not status: any replica may write it (status belongs to the reconciler and the viewer
 * reports), and a merge patch of one key touches nothing else.
 */
import type { RemoteTakeover } from '../types.js';
import type { SessionResource } from '../../kubernetes/resources.js';

export const TAKEOVER_ANNOTATION = 'porthole.dev/takeover';

interface Announced {
  device: string;
  /** ISO time */
  at: string;
  replica: string;
}

export function takeoverAnnotation(device: string, at: Date, replica: string): Record<string, string> {
  return { [TAKEOVER_ANNOTATION]: JSON.stringify({ device, at: at.toISOString(), replica } satisfies Announced) };
}

/** Pure: another replica's takeover on this Session that has not been seen yet, else undefined. */
export function remoteTakeover(s: SessionResource, me: string, lastSeenAt: number | undefined): RemoteTakeover | undefined {
  const raw = s.metadata.annotations?.[TAKEOVER_ANNOTATION];
  if (!raw) return undefined;
  let a: Partial<Announced>;
  try {
    a = JSON.parse(raw) as Partial<Announced>;
  } catch {
    return undefined;
  }
  const at = typeof a.at === 'string' ? Date.parse(a.at) : NaN;
  if (typeof a.device !== 'string' || !a.device || Number.isNaN(at) || a.replica === me) return undefined;
  if (lastSeenAt !== undefined && at <= lastSeenAt) return undefined;
  return { session: s.metadata.name!, device: a.device, at };
}
