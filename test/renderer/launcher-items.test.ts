import { describe, expect, it } from 'vitest';
import type { Session, Template } from '../../cluster-agent/contract/index.js';
import { applySessionEvent, replaceSessions, sessionRows, templateItems, templateTitle, trackFromList } from '../../renderer/src/logic/launcherItems.js';

const template = (name: string, available = true): Template => ({
  name,
  displayName: name.toUpperCase(),
  description: '',
  available,
  unavailableReason: available ? undefined : 'Install the packages first.',
  protocols: ['vnc'],
  idleTimeoutSeconds: 0,
});

const session = (id: string, tpl: string, phase: Session['phase'], createdAt = '2025-01-01T00:00:00.000Z'): Session => ({
  id,
  user: 'alice',
  template: tpl,
  phase,
  createdAt,
  phaseSince: createdAt,
  connectedClients: 0,
});

describe('templateItems', () => {
  it('offers start, resume or nothing per template', () => {
    let sessions = replaceSessions(new Map(), [session('s1', 'terminal', 'Running'), session('s2', 'xfce', 'Failed')], 0);
    sessions = applySessionEvent(sessions, session('s3', 'gnome', 'Stopped'), 0, 0);
    const items = templateItems([template('terminal'), template('xfce'), template('gnome'), template('kde', false)], sessions);
    expect(items.map((i) => [i.template.name, i.action, i.active?.session.id])).toEqual([
      ['terminal', 'resume', 's1'],
      ['xfce', 'start', undefined], // a failed session is not something to resume
      ['gnome', 'start', undefined],
      ['kde', 'unavailable', undefined],
    ]);
  });
  it('resumes the newest live session when there are several', () => {
    const sessions = replaceSessions(
      new Map(),
      [session('old', 'terminal', 'Running', '2025-01-01T00:00:00Z'), session('new', 'terminal', 'Pending', '2025-01-02T00:00:00Z')],
      0,
    );
    expect(templateItems([template('terminal')], sessions)[0]!.active?.session.id).toBe('new');
  });
});

describe('session tracking', () => {
  it('derives elapsed time from createdAt for listed sessions', () => {
    const created = Date.parse('2025-01-01T00:00:00Z');
    expect(trackFromList(session('a', 't', 'Pending'), created + 4000).elapsedMs).toBe(4000);
    expect(trackFromList({ ...session('a', 't', 'Pending'), createdAt: 'garbage' }, 5).elapsedMs).toBe(0);
  });
  it('keeps the core elapsed figures when the list is refreshed, and drops what the list no longer has', () => {
    let map = applySessionEvent(new Map(), session('a', 't', 'Starting'), 1234, 99);
    map = applySessionEvent(map, session('b', 't', 'Running'), 0, 99);
    map = replaceSessions(map, [session('a', 't', 'Running')], 500);
    expect([...map.keys()]).toEqual(['a']);
    expect(map.get('a')).toMatchObject({ elapsedMs: 1234, receivedAt: 99, session: { phase: 'Running' } });
  });
  it('lists everything but Stopped, newest first', () => {
    let map = replaceSessions(new Map(), [session('a', 't', 'Running', '2025-01-01T00:00:00Z'), session('b', 'u', 'Failed', '2025-01-03T00:00:00Z')], 0);
    map = applySessionEvent(map, session('c', 'v', 'Stopped', '2025-01-04T00:00:00Z'), 0, 0);
    expect(map.has('c')).toBe(true); // a session view still learns that it stopped
    expect(sessionRows(map).map((t) => t.session.id)).toEqual(['b', 'a']);
  });
  it('names sessions of templates no longer offered by their template name', () => {
    expect(templateTitle([template('terminal')], 'terminal')).toBe('TERMINAL');
    expect(templateTitle([], 'gone')).toBe('gone');
  });
});
