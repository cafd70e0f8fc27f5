import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { transitionEvent, worthAnEvent } from '../../cluster-agent/runtime/kubernetes/events.js';
import { deriveStatus } from '../../cluster-agent/runtime/kubernetes/session-status.js';
import type { SessionResource } from '../../cluster-agent/kubernetes/resources.js';

const session: SessionResource = {
  apiVersion: 'porthole.dev/v1alpha1',
  kind: 'Session',
  metadata: { name: 'ann-xfce-1234abcd', namespace: 'desktops', uid: 'u-1', creationTimestamp: new Date(0) },
  spec: { user: 'ann', template: 'xfce' },
};

describe('which status changes become Events', () => {
  it('routine waiting is silent; running, endings, failures and problems on the way are told', () => {
    expect(worthAnEvent({ phase: 'Pending', message: 'Waiting for a node to run the desktop' })).toBe(false);
    expect(worthAnEvent({ phase: 'Starting', message: 'Starting the desktop' })).toBe(false);
    expect(worthAnEvent({ phase: 'Running' })).toBe(true);
    expect(worthAnEvent({ phase: 'Stopped', message: 'idle' })).toBe(true);
    expect(worthAnEvent({ phase: 'Failed', reason: 'Crashed', message: 'exit 1' })).toBe(true);
  });

  it('an unschedulable pod is a Warning while the session still waits', () => {
    const pod: V1Pod = {
      metadata: { name: session.metadata.name },
      spec: { containers: [] },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }] },
    };
    const next = deriveStatus({ session, pod, now: 1_000, startTimeoutMs: 180_000 });
    expect(next.phase).toBe('Pending');
    expect(worthAnEvent(next)).toBe(true);
    const event = transitionEvent(session, next, 'agent-1', 1_000);
    expect(event.type).toBe('Warning');
    expect(event.message).toMatch(/Insufficient nvidia\.com\/gpu/);
  });
});
