import { describe, expect, it } from 'vitest';
import type { SessionResource } from '../../cluster-agent/kubernetes/resources.js';
import { remoteTakeover, TAKEOVER_ANNOTATION, takeoverAnnotation } from '../../cluster-agent/runtime/kubernetes/takeovers.js';

const session = (annotations?: Record<string, string>) => ({ metadata: { name: 'rosa-xfce-1', annotations } }) as unknown as SessionResource;
const at = new Date('2026-12-03T10:00:00.000Z');

describe('takeovers announced between replicas', () => {
  it('reads another replica\'s takeover once, and a newer one again', () => {
    const s = session(takeoverAnnotation('device-b', at, 'replica-2'));
    expect(remoteTakeover(s, 'replica-1', undefined)).toEqual({ session: 'rosa-xfce-1', device: 'device-b', at: at.getTime() });
    expect(remoteTakeover(s, 'replica-1', at.getTime())).toBeUndefined();
    const later = session(takeoverAnnotation('device-c', new Date(at.getTime() + 1), 'replica-2'));
    expect(remoteTakeover(later, 'replica-1', at.getTime())?.device).toBe('device-c');
  });

  it('ignores its own takeovers, none at all, and an annotation someone mangled', () => {
    expect(remoteTakeover(session(takeoverAnnotation('device-b', at, 'replica-1')), 'replica-1', undefined)).toBeUndefined();
    expect(remoteTakeover(session(), 'replica-1', undefined)).toBeUndefined();
    for (const raw of ['not json', '{}', JSON.stringify({ device: '', at: at.toISOString(), replica: 'r' }), JSON.stringify({ device: 'd', at: 'yesterday', replica: 'r' })]) {
      expect(remoteTakeover(session({ [TAKEOVER_ANNOTATION]: raw }), 'replica-1', undefined)).toBeUndefined();
    }
  });
});
