/**
 * Single use of connect tokens across replicas. Before a stream is accepted, the agent creates a core/v1
 * Event on the Session whose NAME is derived from the token id: the API server lets exactly one create of
 * a name succeed, so a second use (on any replica) gets AlreadyExists and is refused. One API call per
 * connect, on a verb the agent already holds (events create), and no cleanup code: the API server expires
 * Events by itself (--event-ttl, 1 h by default), long after the 60-second token is dead anyway. The Event is
 * also a useful record (`kubectl describe session` shows "StreamOpened ... by alice").
 *
 * Fails closed: when the API server cannot be asked, the stream is refused (503), never let through.
 */
import { createHash } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { ConnectTokenLedger } from '../../state/connect-tokens.js';
import { RuntimeError } from '../types.js';
import { sessionEvent } from './events.js';
import { apiMessage, isConflict, type KubeClients } from './kube-client.js';

export const STREAM_OPENED_REASON = 'StreamOpened';

/** Pure: the Event that marks a connect token used. Its name is the whole point: one per token id. */
export function connectTokenEvent(namespace: string, claims: { jti: string; user: string; session: string }, instance: string, now: number): CoreV1Event {
  const id = createHash('sha256').update(claims.jti).digest('hex').slice(0, 32);
  return sessionEvent(
    {
      eventName: `${claims.session}.connect-${id}`,
      namespace,
      session: { name: claims.session },
      type: 'Normal',
      reason: STREAM_OPENED_REASON,
      message: `${claims.user} opened a stream (connect token ${id.slice(0, 8)})`,
    },
    instance,
    now,
  );
}

export class KubernetesConnectTokenLedger implements ConnectTokenLedger {
  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly instance: string,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(claims: { jti: string; user: string; session: string; exp: number }): Promise<boolean> {
    try {
      await this.clients.core.createNamespacedEvent({ namespace: this.namespace, body: connectTokenEvent(this.namespace, claims, this.instance, this.now()) });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw new RuntimeError('unavailable', `Could not record the connect token as used (Event in ${this.namespace}): ${apiMessage(err)}; try again`);
    }
  }
}
