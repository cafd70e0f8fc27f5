/**
 * Kubernetes Events on a Session (core/v1, what `kubectl describe session` shows), for every phase
 * transition worth telling (worthAnEvent). Recording is best-effort: a lost Event never fails a reconcile, and
 * the reconciler does not wait for it (EventSink sends them in the background, as client-go's recorder does).
 */
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AGENT_NAME, API_VERSION, type SessionResource } from '../../kubernetes/resources.js';
import type { DerivedStatus } from './session-status.js';
import type { KubeClients } from './kube-client.js';

/**
 * Pure: whether a status change deserves an Event. Routine steps (Pending, Starting) do not: at a
 * thousand starts they were a quarter of the agent's API requests and tell nobody anything that the
 * Session's status does not. Running, the end of a session, failures and problems met on the way do.
 */
export function worthAnEvent(next: DerivedStatus): boolean {
  return (next.phase !== 'Pending' && next.phase !== 'Starting') || next.reason !== undefined || next.warning === true;
}

/** What differs between the Events the agent records on a Session; the envelope is the same for all. */
export interface SessionEventFields {
  /** the Event's own name (unique per event, or chosen to be unique on purpose) */
  eventName: string;
  namespace: string;
  session: { name: string; uid?: string; resourceVersion?: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Pure: a core/v1 Event about a Session, reported by this agent instance at `now`. */
export function sessionEvent(f: SessionEventFields, instance: string, now: number): CoreV1Event {
  const at = new Date(now);
  const { name, uid, resourceVersion } = f.session;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: f.eventName, namespace: f.namespace },
    involvedObject: { apiVersion: API_VERSION, kind: 'Session', name, namespace: f.namespace, ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) },
    type: f.type,
    reason: f.reason,
    message: f.message,
    source: { component: AGENT_NAME },
    reportingComponent: `porthole.dev/${AGENT_NAME}`,
    reportingInstance: instance,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/** Pure: the Event for a transition (reason = the failure reason, else the new phase). */
export function transitionEvent(session: SessionResource, next: DerivedStatus, instance: string, now: number): CoreV1Event {
  const name = session.metadata.name!;
  return sessionEvent(
    {
      eventName: `${name}.${now.toString(16)}${randomBytes(2).toString('hex')}`,
      namespace: session.metadata.namespace!,
      session: { name, uid: session.metadata.uid!, ...(session.metadata.resourceVersion ? { resourceVersion: session.metadata.resourceVersion } : {}) },
      type: next.phase === 'Failed' || next.warning ? 'Warning' : 'Normal',
      reason: next.phase === 'Failed' ? (next.reason ?? 'Failed') : next.phase,
      message: next.message ?? `Session is ${next.phase}${next.podName ? ` (pod ${next.podName})` : ''}`,
    },
    instance,
    now,
  );
}

export async function recordEvent(clients: KubeClients, event: CoreV1Event, log: Logger): Promise<void> {
  try {
    await clients.core.createNamespacedEvent({ namespace: event.metadata.namespace!, body: event });
  } catch (err) {
    log.debug({ err, reason: event.reason }, 'could not record an Event');
  }
}

/**
 * Sends Events in the background, a few at a time, so a reconcile never waits for one. Under a burst
 * (a thousand sessions starting) at most `maxBacklog` wait; beyond that they are dropped (logged at
 * debug), as client-go's broadcaster drops when its queue is full.
 */
export class EventSink {
  private readonly backlog: CoreV1Event[] = [];
  private inFlight = 0;

  constructor(
    private readonly clients: KubeClients,
    private readonly log: Logger,
    private readonly concurrency = 8,
    private readonly maxBacklog = 2000,
  ) {}

  record(event: CoreV1Event): void {
    if (this.backlog.length >= this.maxBacklog) {
      this.log.debug({ reason: event.reason, object: event.involvedObject.name }, 'too many Events queued; dropping one');
      return;
    }
    this.backlog.push(event);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.backlog.length > 0) {
      const event = this.backlog.shift()!;
      this.inFlight++;
      void recordEvent(this.clients, event, this.log).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}
