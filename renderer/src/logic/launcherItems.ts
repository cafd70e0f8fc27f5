/** Merges the user's templates with their sessions into what the launcher lists. */
import type { Session, Template } from '../../../cluster-agent/contract/index.js';
import { isActive } from './phase.js';

export interface TrackedSession {
  session: Session;
  /** ms since creation as the core last reported it */
  elapsedMs: number;
  /** local time (Date.now()) when that report arrived */
  receivedAt: number;
}

export interface TemplateItem {
  template: Template;
  /** the user's live (Pending/Starting/Running) session of this template, if any */
  active?: TrackedSession;
  /** the action the template's button offers */
  action: 'start' | 'resume' | 'unavailable';
}

/** A tracked session from the list call, which carries no elapsedMs: derive it from createdAt. */
export function trackFromList(session: Session, now: number): TrackedSession {
  const created = Date.parse(session.createdAt);
  return { session, elapsedMs: Number.isFinite(created) ? Math.max(0, now - created) : 0, receivedAt: now };
}

/** Replace the whole set with a fresh list, keeping elapsed figures the core already sent. */
export function replaceSessions(previous: ReadonlyMap<string, TrackedSession>, list: Session[], now: number): Map<string, TrackedSession> {
  const next = new Map<string, TrackedSession>();
  for (const session of list) {
    const known = previous.get(session.id);
    next.set(session.id, known ? { ...known, session } : trackFromList(session, now));
  }
  return next;
}

/**
 * Apply one SessionEvent. Stopped sessions stay in the map (an open session view must learn
 * that its session stopped); the lists below leave them out.
 */
export function applySessionEvent(
  previous: ReadonlyMap<string, TrackedSession>,
  session: Session,
  elapsedMs: number,
  now: number,
): Map<string, TrackedSession> {
  const next = new Map(previous);
  next.set(session.id, { session, elapsedMs, receivedAt: now });
  return next;
}

function newestFirst(a: TrackedSession, b: TrackedSession): number {
  return b.session.createdAt.localeCompare(a.session.createdAt) || a.session.id.localeCompare(b.session.id);
}

export function templateItems(templates: Template[], sessions: ReadonlyMap<string, TrackedSession>): TemplateItem[] {
  const live = [...sessions.values()].filter((t) => isActive(t.session.phase)).sort(newestFirst);
  return templates.map((template) => {
    const active = live.find((t) => t.session.template === template.name);
    if (active) return { template, active, action: 'resume' };
    return { template, action: template.available ? 'start' : 'unavailable' };
  });
}

/** Sessions the launcher lists: everything not Stopped, newest first (Failed ones stay so their message shows). */
export function sessionRows(sessions: ReadonlyMap<string, TrackedSession>): TrackedSession[] {
  return [...sessions.values()].filter((t) => t.session.phase !== 'Stopped').sort(newestFirst);
}

/** A template's display name, falling back to its name for sessions of templates no longer offered. */
export function templateTitle(templates: Template[], name: string): string {
  return templates.find((t) => t.name === name)?.displayName ?? name;
}
