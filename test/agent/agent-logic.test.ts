/** The agent's pure logic: argument parsing, idle decisions, URLs, entitlement, RFB negotiation. */
import { describe, expect, it } from 'vitest';
import type { Session } from '../../cluster-agent/contract/index.js';
import { parseCommand, parseListen, UsageError } from '../../cluster-agent/agent/args.js';
import { describeValidation } from '../../cluster-agent/agent/error-handling.js';
import { mayUseTemplate, templatesFor } from '../../cluster-agent/agent/entitlement.js';
import { ByteReader } from '../../cluster-agent/agent/gateway/byte-reader.js';
import { acceptViewer, negotiateMinor, RfbError } from '../../cluster-agent/agent/gateway/rfb-handshake.js';
import { closeReason } from '../../cluster-agent/agent/gateway/vnc-gateway.js';
import { findIdleSessions } from '../../cluster-agent/agent/idle-reaper.js';
import { redactUrl } from '../../cluster-agent/agent/redact-url.js';
import { isValidHostHeader, streamUrls } from '../../cluster-agent/agent/stream-urls.js';
import type { TemplateSpec } from '../../cluster-agent/runtime/types.js';

describe('command line', () => {
  it('parses serve with defaults derived from the data dir', () => {
    expect(parseCommand(['serve', '--runtime', 'local', '--listen', '127.0.0.1:0'])).toEqual({
      kind: 'serve',
      runtime: 'local',
      host: '127.0.0.1',
      port: 0,
      dataDir: './.porthole/agent',
      usersFile: './.porthole/agent/users.yaml',
    });
    const c = parseCommand(['serve', '--runtime', 'local', '--listen', '[::1]:8443', '--data-dir', '/d/', '--idle-timeout', '0', '--public-url', 'https://x.example/p/']);
    expect(c).toMatchObject({ host: '::1', port: 8443, usersFile: '/d/users.yaml', idleTimeout: 0, publicUrl: 'https://x.example/p' });
    expect(parseCommand(['serve', '--runtime', 'local', '--listen', 'h:1', '--streamer-codecs', 'H264,av1,h264'])).toMatchObject({ streamerCodecs: ['h264', 'av1'] });
  });

  it('says what is wrong with bad arguments', () => {
    const cases: [string[], RegExp][] = [
      [[], /missing command/],
      [['serve', '--listen', '1.2.3.4:1'], /--runtime is required/],
      [['serve', '--runtime', 'docker', '--listen', 'a:1'], /local or kubernetes/],
      [['serve', '--runtime', 'local'], /--listen HOST:PORT is required/],
      [['serve', '--runtime', 'local', '--listen', '8080'], /HOST:PORT/],
      [['serve', '--runtime', 'local', '--listen', 'h:1', '--idle-timeout', '5m'], /whole number of seconds/],
      [['serve', '--runtime', 'local', '--listen', 'h:1', '--public-url', 'ftp://x'], /http/],
      [['serve', '--runtime', 'local', '--listen', 'h:1', '--bogus'], /bogus/],
      [['serve', '--runtime', 'local', '--listen', 'h:1', '--streamer-codecs', 'h264,h265'], /--streamer-codecs takes a comma-separated list of h264, vp9, vp8, av1, got "h264,h265"/],
      [['serve', '--runtime', 'kubernetes', '--listen', 'h:1', '--streamer-codecs', 'av1'], /for the local runtime/],
      [['users', 'add', 'alice', '--file', 'f'], /--password-stdin/],
      [['users', 'add', '--file', 'f', '--password-stdin'], /NAME/],
      [['users', 'remove', 'x'], /unknown users subcommand/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [argv, message] of cases) expect(() => parseCommand(argv), argv.join(' ')).toThrow(message);
    expect(() => parseListen('host:70000')).toThrow(UsageError);
  });

  it('parses users add with groups', () => {
    expect(parseCommand(['users', 'add', 'alice', '--file', 'u.yaml', '--password-stdin', '--groups', 'dev, ops'])).toEqual({
      kind: 'users-add',
      name: 'alice',
      file: 'u.yaml',
      groups: ['dev', 'ops'],
    });
  });

  it('parses verify with its template and wait, and keeps each admin flag to its command', () => {
    expect(parseCommand(['verify', '--namespace', 'desk', '--template', 'xfce', '--wait', '60'])).toMatchObject({ kind: 'admin', action: 'verify', namespace: 'desk', template: 'xfce', waitSeconds: 60 });
    expect(() => parseCommand(['install', '--template', 'xfce'])).toThrow(/--template is for verify/);
    expect(() => parseCommand(['verify', '--dry-run'])).toThrow(/--dry-run and --image are for install/);
    expect(() => parseCommand(['doctor', '--wait', '5'])).toThrow(/--wait is for install and verify/);
  });
});

const session = (over: Partial<Session>): Session => ({
  id: 's1',
  user: 'alice',
  template: 'terminal',
  phase: 'Running',
  createdAt: '2026-01-01T00:00:00Z',
  phaseSince: '2026-01-01T00:00:05Z',
  startedAt: '2026-01-01T00:00:05Z',
  connectedClients: 0,
  ...over,
});

describe('idle reaper decisions', () => {
  const t0 = Date.parse('2026-01-01T00:00:05Z');
  const timeouts = (n: string) => ({ terminal: 600, forever: 0 })[n];

  it('stops a running session without clients once its template timeout has passed since last activity', () => {
    const v = findIdleSessions([session({ lastActiveAt: '2026-01-01T00:01:05Z' })], timeouts, t0 + 660_000);
    expect(v).toEqual([{ id: 's1', idleSeconds: 600, reason: 'Idle: no client for 10 minutes', createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:05Z', timeoutSeconds: 600 }]);
    expect(findIdleSessions([session({ lastActiveAt: '2026-01-01T00:01:05Z' })], timeouts, t0 + 659_000)).toEqual([]);
  });

  it('falls back to startedAt, and never stops connected, non-running or never-timeout sessions', () => {
    const later = t0 + 10_000_000;
    expect(findIdleSessions([session({})], timeouts, later).map((v) => v.id)).toEqual(['s1']);
    expect(findIdleSessions([session({ connectedClients: 1 })], timeouts, later)).toEqual([]);
    expect(findIdleSessions([session({ phase: 'Starting' })], timeouts, later)).toEqual([]);
    expect(findIdleSessions([session({ template: 'forever' })], timeouts, later)).toEqual([]);
  });

  it('lets --idle-timeout override templates (0 = never)', () => {
    expect(findIdleSessions([session({ template: 'forever' })], timeouts, t0 + 61_000, 60)[0]?.reason).toBe('Idle: no client for 1 minute');
    expect(findIdleSessions([session({})], timeouts, t0 + 10_000_000, 0)).toEqual([]);
  });
});

describe('stream URLs', () => {
  it('builds complete ws/wss URLs carrying the token', () => {
    expect(streamUrls('http://127.0.0.1:7380', 'abc', 't.k+n')).toEqual({
      vnc: 'ws://127.0.0.1:7380/api/v1/sessions/abc/vnc?token=t.k%2Bn',
      webrtc: 'ws://127.0.0.1:7380/api/v1/sessions/abc/webrtc?token=t.k%2Bn',
    });
    expect(streamUrls('https://desk.example.org/porthole/', 'abc', 'x').vnc).toBe('wss://desk.example.org/porthole/api/v1/sessions/abc/vnc?token=x');
  });

  it('takes a Host header as a URL host only when it is exactly host[:port]', () => {
    for (const good of ['127.0.0.1:7380', 'desk.example.org', 'desk.example.org.', '[::1]:8443', 'my_host:80', 'LOCALHOST']) {
      expect(isValidHostHeader(good), good).toBe(true);
    }
    for (const bad of [undefined, '', 'a b', '[fe80::1%25eth0]', '[::', '::1', 'evil.example/x', 'evil.example?x', 'evil.example#x', 'u@evil.example', 'h:99999', 'h:', 'h:-1', '-h', 'h\\x', 'x'.repeat(300)]) {
      expect(isValidHostHeader(bad), String(bad)).toBe(false);
    }
  });

  it('never logs a connect token, however the parameter is spelled', () => {
    const cases: [string, string][] = [
      ['/api/v1/sessions/a/vnc?x=1&token=eyJ.secret', '/api/v1/sessions/a/vnc?x=1&token=[redacted]'],
      ['/api/v1/sessions/a/vnc?token=eyJ.secret&x=1', '/api/v1/sessions/a/vnc?token=[redacted]&x=1'],
      ['/api/v1/sessions/a/vnc;token=eyJ.secret', '/api/v1/sessions/a/vnc;token=[redacted]'],
      ['/api/v1/sessions/a/vnc?x=1;token=eyJ.secret', '/api/v1/sessions/a/vnc?x=1;token=[redacted]'],
      ['/a?%74oken=eyJ.secret', '/a?%74oken=[redacted]'],
      ['/a?to%6Ben=eyJ.secret', '/a?to%6Ben=[redacted]'],
      ['/a?%2574oken=eyJ.secret', '/a?%2574oken=[redacted]'],
      ['/a?TOKEN=eyJ.secret', '/a?TOKEN=[redacted]'],
      ['/a?access_token=eyJ.secret&b=2', '/a?access_token=[redacted]&b=2'],
      ['/a?refresh_token=eyJ.secret', '/a?refresh_token=[redacted]'],
      ['/a?x=1%26token%3DeyJ.secret&y=2', '/a?x=1%26token%3D[redacted]&y=2'],
      ['/a?token=eyJ%26secret&z=1', '/a?token=[redacted]&z=1'],
      ['/a?tok+en=x', '/a?tok+en=x'],
    ];
    for (const [url, logged] of cases) expect(redactUrl(url), url).toBe(logged);
    // what is not a token stays readable
    expect(redactUrl('/api/v1/sessions?x=token&tokens=2&token')).toBe('/api/v1/sessions?x=token&tokens=2&token');
  });
});

describe('entitlement', () => {
  const spec = (over: Partial<TemplateSpec>): TemplateSpec => ({
    name: 'terminal',
    displayName: 'T',
    description: '',
    available: true,
    protocols: ['vnc'],
    idleTimeoutSeconds: 60,
    ...over,
  });
  it('allows everybody without lists, else named users or group members', () => {
    const alice = { name: 'alice', groups: ['dev'] };
    expect(mayUseTemplate(alice, spec({}))).toBe(true);
    expect(mayUseTemplate(alice, spec({ allowedUsers: ['bob'] }))).toBe(false);
    expect(mayUseTemplate(alice, spec({ allowedUsers: ['bob'], allowedGroups: ['dev'] }))).toBe(true);
    expect(mayUseTemplate(alice, spec({ allowedUsers: ['alice'] }))).toBe(true);
  });
  it('does not show who else may use a template', () => {
    const [t] = templatesFor({ name: 'bob', groups: [] }, [spec({ allowedUsers: ['bob', 'carol'] })]);
    expect(t).not.toHaveProperty('allowedUsers');
  });
});

describe('error messages', () => {
  it('names the failing field', () => {
    expect(describeValidation('body', [{ instancePath: '/template', message: 'template names are lower-case letters' }])).toBe(
      'Invalid body.template: template names are lower-case letters',
    );
  });
  it('keeps WebSocket close reasons within 123 bytes', () => {
    expect(Buffer.byteLength(closeReason('é'.repeat(200)))).toBeLessThanOrEqual(123);
  });
});

describe('RFB negotiation', () => {
  it('accepts RFB 3.x and refuses what is not VNC', () => {
    expect(negotiateMinor(Buffer.from('RFB 003.008\n'), 'x')).toBe(8);
    expect(negotiateMinor(Buffer.from('RFB 003.889\n'), 'x')).toBe(8);
    expect(negotiateMinor(Buffer.from('RFB 003.005\n'), 'x')).toBe(3);
    expect(() => negotiateMinor(Buffer.from('HTTP/1.1 200'), 'The desktop')).toThrow(/The desktop does not speak the VNC protocol/);
  });

  it('offers the viewer only security type None and answers OK', async () => {
    const fromViewer = new ByteReader();
    const sent: Buffer[] = [];
    const done = acceptViewer(fromViewer, (b) => sent.push(b));
    fromViewer.push(Buffer.from('RFB 003.008\n'));
    fromViewer.push(Buffer.from([1, 1 /* ClientInit, arrives early */]));
    await done;
    expect(Buffer.concat(sent).toString('hex')).toBe(Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1, 1, 0, 0, 0, 0])]).toString('hex'));
    expect([...fromViewer.drain()]).toEqual([1]); // the early ClientInit is kept for the desktop
  });

  it('refuses a viewer that insists on VncAuth, telling it why', async () => {
    const fromViewer = new ByteReader();
    const sent: Buffer[] = [];
    const done = acceptViewer(fromViewer, (b) => sent.push(b));
    fromViewer.push(Buffer.from('RFB 003.008\n'));
    fromViewer.push(Buffer.from([2]));
    await expect(done).rejects.toThrow(RfbError);
    expect(Buffer.concat(sent).toString()).toContain('Only security type None is offered');
  });

  it('ByteReader fails pending reads when the peer goes away', async () => {
    const r = new ByteReader();
    const p = r.read(4);
    r.push(Buffer.from([1, 2]));
    r.fail(new Error('closed'));
    await expect(p).rejects.toThrow('closed');
  });
});
