/**
 * Follows sessions the launcher cares about: polls GET /sessions/{id} fast while a session is about
 * to change (the person watches "starting… 4 s"), slowly while someone listens, and stops at
 * Stopped/Failed. One timer per session; the agent's answer decides the next interval.
 */
import type { Session } from '../../cluster-agent/contract/index.js';
import { PortholeError, type SessionEvent } from '../../bridge/contract.js';
import { elapsedSince, isFinal, isTransient, pollIntervalMs } from './timing.js';

export interface FollowerDeps {
  fetchSession(id: string): Promise<Session>;
  emit(event: SessionEvent): void;
  /** anyone subscribed to events? without listeners only transient phases are followed */
  hasListeners(): boolean;
  agentReachable(): boolean;
  now?: () => number;
}

interface Followed {
  session: Session;
  elapsedMs: number;
  timer?: NodeJS.Timeout;
}

/** Did anything a person could see change? (elapsed time aside) */
export function sessionChanged(a: Session, b: Session): boolean {
  return (
    a.phase !== b.phase ||
    a.message !== b.message ||
    a.reason !== b.reason ||
    a.connectedClients !== b.connectedClients ||
    a.startedAt !== b.startedAt ||
    a.expectedStartSeconds !== b.expectedStartSeconds
  );
}

export class SessionFollower {
  private readonly followed = new Map<string, Followed>();
  private readonly now: () => number;

  constructor(private readonly deps: FollowerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Emits the session as it is now and keeps following it (again) from there. */
  follow(session: Session): void {
    const previous = this.followed.get(session.id);
    if (previous?.timer) clearTimeout(previous.timer);
    const entry: Followed = { session, elapsedMs: elapsedSince(session.createdAt, this.now(), previous?.elapsedMs) };
    this.followed.set(session.id, entry);
    this.deps.emit({ type: 'session', session, elapsedMs: entry.elapsedMs });
    this.schedule(entry);
  }

  isFollowing(id: string): boolean {
    return this.followed.has(id);
  }

  get count(): number {
    return this.followed.size;
  }

  /** Listeners came back: resume slow polling of sessions that were parked. */
  wake(): void {
    for (const entry of this.followed.values()) if (!entry.timer) this.schedule(entry);
  }

  stopAll(): void {
    for (const entry of this.followed.values()) if (entry.timer) clearTimeout(entry.timer);
    this.followed.clear();
  }

  private schedule(entry: Followed): void {
    entry.timer = undefined;
    if (isFinal(entry.session.phase)) {
      this.followed.delete(entry.session.id);
      return;
    }
    // Nobody is watching and nothing is about to change: park it until someone subscribes.
    if (!isTransient(entry.session.phase) && !this.deps.hasListeners()) return;
    entry.timer = setTimeout(() => void this.poll(entry), pollIntervalMs(entry.session.phase, this.deps.agentReachable()));
    entry.timer.unref();
  }

  private async poll(entry: Followed): Promise<void> {
    const id = entry.session.id;
    let next: Session;
    try {
      next = await this.deps.fetchSession(id);
    } catch (error) {
      if (this.followed.get(id) !== entry) return;
      const code = error instanceof PortholeError ? error.code : 'internal';
      // Gone (or not ours any more) and signed out end the following; the rest is retried.
      if (code === 'not_found' || code === 'signed_out') {
        this.followed.delete(id);
        return;
      }
      this.schedule(entry);
      return;
    }
    if (this.followed.get(id) !== entry) return; // replaced by follow() or stopAll() meanwhile
    const changed = sessionChanged(entry.session, next);
    entry.session = next;
    entry.elapsedMs = elapsedSince(next.createdAt, this.now(), entry.elapsedMs);
    // While starting, every poll is news (the elapsed time grows); afterwards only changes are.
    if (changed || isTransient(next.phase)) this.deps.emit({ type: 'session', session: next, elapsedMs: entry.elapsedMs });
    this.schedule(entry);
  }
}
