/** The launcher's pure rules: addresses, timing, error sentences, file mapping, Electron policy. */
import { describe, expect, it } from 'vitest';
import { parseAgentUrl } from '../../main/core/agent-url.js';
import { checkCall } from '../../main/core/bridge.js';
import { httpError, networkErrorCode, retryAfterSeconds, unreachableError } from '../../main/core/errors.js';
import { rendererFile, RENDERER_CSP } from '../../main/core/renderer-policy.js';
import { agentRetryDelayMs, elapsedSince, isTokenStale, pollIntervalMs, refreshDelayMs } from '../../main/core/timing.js';
import { sessionChanged } from '../../main/core/session-follower.js';
import { chromiumSwitches, hardwareDecodeVerdict, isAppUrl, parseDeviceSettings, parseLauncherArgs, permissionAllowed } from '../../main/electron/policy.js';
import { PortholeError } from '../../bridge/contract.js';
import type { Session } from '../../cluster-agent/contract/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof PortholeError ? e.code : 'not a PortholeError';
  }
  return undefined;
}

describe('agent address', () => {
  it('accepts what people paste and normalises it', () => {
    expect(parseAgentUrl('127.0.0.1:7380').display).toBe('http://127.0.0.1:7380');
    expect(parseAgentUrl(' https://agent.example/porthole/ ').display).toBe('https://agent.example/porthole');
    expect(parseAgentUrl('http://agent.example:7380').url('/api/v1/me')).toBe('http://agent.example:7380/api/v1/me');
  });
  it('refuses what cannot be an agent, with a sentence', () => {
    for (const bad of ['', 'ftp://x', 'http://user:pw@x', 'http://x/?a=1', 'http://[bad']) expect(codeOf(() => parseAgentUrl(bad))).toBe('invalid_agent_url');
    expect(() => parseAgentUrl('ftp://x')).toThrow(/must start with http:\/\/ or https:\/\//);
  });
});

describe('timing', () => {
  it('refreshes ahead of expiry: a quarter of the lifetime, at most a minute', () => {
    expect(refreshDelayMs(900)).toBe(840_000);
    expect(refreshDelayMs(60)).toBe(45_000);
    expect(refreshDelayMs(1)).toBe(750);
    expect(refreshDelayMs(0)).toBe(500);
  });
  it('treats a token as stale 2 s before expiry', () => {
    expect(isTokenStale(10_000, 7_000)).toBe(false);
    expect(isTokenStale(10_000, 8_000)).toBe(true);
  });
  it('polls fast while a session changes, slowly otherwise, patiently while the agent is away', () => {
    expect(pollIntervalMs('Pending', true)).toBe(500);
    expect(pollIntervalMs('Starting', true)).toBe(500);
    expect(pollIntervalMs('Running', true)).toBe(5_000);
    expect(pollIntervalMs('Starting', false)).toBe(2_000);
  });
  it('elapsed time never goes backwards or below zero', () => {
    const created = '2026-01-01T00:00:00.000Z';
    const t0 = Date.parse(created);
    expect(elapsedSince(created, t0 + 1500)).toBe(1500);
    expect(elapsedSince(created, t0 - 500)).toBe(0);
    expect(elapsedSince(created, t0 + 1000, 1200)).toBe(1200);
    expect(elapsedSince('not a date', t0, 0)).toBe(0);
  });
  it('tells news from noise between two polls', () => {
    const s: Session = { id: 'a', user: 'u', template: 't', phase: 'Starting', createdAt: 'x', phaseSince: 'x', connectedClients: 0 };
    expect(sessionChanged(s, { ...s })).toBe(false);
    expect(sessionChanged(s, { ...s, phase: 'Running' })).toBe(true);
    expect(sessionChanged(s, { ...s, connectedClients: 1 })).toBe(true);
  });
});

describe('error sentences', () => {
  const agent = 'http://127.0.0.1:7380';
  it('finds the network error code wherever undici nests it', () => {
    expect(networkErrorCode(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toBe('ECONNREFUSED');
    expect(networkErrorCode(new TypeError('fetch failed', { cause: { errors: [{ code: 'ECONNREFUSED' }] } }))).toBe('ECONNREFUSED');
    expect(networkErrorCode(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('TIMEOUT');
  });
  it('words unreachable agents so a person knows what to check', () => {
    expect(unreachableError(agent, 'ECONNREFUSED', 10_000).message).toBe(
      'Porthole cannot reach the agent at http://127.0.0.1:7380: connection refused. Check the address or whether the agent runs.',
    );
    expect(unreachableError('http://nowhere.invalid', 'ENOTFOUND', 10_000).message).toMatch(/the name "nowhere.invalid" is not known/);
    expect(unreachableError(agent, 'TIMEOUT', 10_000).message).toMatch(/no answer within 10 s/);
    expect(unreachableError(agent, 'DEPTH_ZERO_SELF_SIGNED_CERT', 10_000).message).toMatch(/certificate is not trusted/);
  });
  it('maps HTTP answers to codes and sentences', () => {
    expect(httpError({ agent, what: 'POST /login', status: 401, body: { error: { code: 'unauthorized', message: 'Wrong user name or password' } }, isLogin: true }).code).toBe('wrong_password');
    // another reason for refusing a sign-in is said as the agent says it
    expect(httpError({ agent, what: 'POST /login', status: 401, body: { error: { code: 'unauthorized', message: 'This account is disabled in the company directory; ask an administrator' } }, isLogin: true })).toMatchObject({ code: 'sign_in_refused', message: /disabled in the company directory/ });
    expect(httpError({ agent, what: 'POST /auth/oidc', status: 401, body: { error: { code: 'unauthorized', message: 'The sign-in was refused: the ID token has expired; sign in again' } }, isOidc: true })).toMatchObject({ code: 'sign_in_refused', message: /ID token has expired/ });
    const refused = httpError({ agent, what: 'POST /refresh', status: 401, body: { error: { code: 'unauthorized', message: 'The refresh token has expired; sign in again' } }, isRefresh: true });
    expect(refused.code).toBe('signed_out');
    expect(refused.message).toBe('Your sign-in has ended: the refresh token has expired; sign in again.');
    const limited = httpError({ agent, what: 'POST /login', status: 429, body: undefined, retryAfter: '42' });
    expect(limited.code).toBe('rate_limited');
    expect(limited.message).toMatch(/Wait 42 s and try again/);
    const broken = httpError({ agent, what: 'GET /me', status: 500, body: '<html>' });
    expect(broken.code).toBe('agent_error');
    expect(broken.message).toMatch(/failed \(HTTP 500\).*check the agent's log/);
    const conflict = httpError({ agent, what: 'POST /connect', status: 409, body: { error: { code: 'conflict', message: 'Session "a" is not running yet' } } });
    expect([conflict.code, conflict.message]).toEqual(['conflict', 'Session "a" is not running yet']);
    expect(httpError({ agent, what: 'POST /api/v1/auth/login', status: 404, body: undefined }).code).toBe('not_porthole');
  });
  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterSeconds('3')).toBe(3);
    expect(retryAfterSeconds(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(retryAfterSeconds(undefined)).toBeUndefined();
  });
});

describe('bridge calls', () => {
  it('checks the method and the arguments before the core sees them', () => {
    expect(checkCall('startSession', ['terminal'])).toEqual({ method: 'startSession', params: ['terminal'] });
    expect(checkCall('getState', undefined)).toEqual({ method: 'getState', params: [] });
    expect(codeOf(() => checkCall('constructor', []))).toBe('bad_request');
    expect(codeOf(() => checkCall('signIn', [{ agentUrl: 'x', username: 1, password: 'p' }]))).toBe('bad_request');
    expect(codeOf(() => checkCall('connect', []))).toBe('bad_request');
  });
});

describe('renderer files and policy', () => {
  it('maps paths inside dist/renderer only', () => {
    expect(rendererFile('/')).toBe('index.html');
    expect(rendererFile('/sessions/abc')).toBe('index.html');
    expect(rendererFile('/assets/index-abc.js?x=1')).toBe('assets/index-abc.js');
    for (const bad of ['/../package.json', '/assets/%2e%2e/%2e%2e/x.js', '/.env', '/a%00.js', '/..%5cx.js', '/%E0%A4%A']) expect(rendererFile(bad)).toBeUndefined();
  });
  it('has the policy the brief asks for', () => {
    for (const part of ["default-src 'self'", "script-src 'self'", "img-src 'self' data: blob:", "connect-src 'self' ws: wss:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
      expect(RENDERER_CSP).toContain(part);
    }
    expect(RENDERER_CSP).not.toContain('unsafe');
  });
});

describe('Electron policy', () => {
  it('knows its own origin', () => {
    expect(isAppUrl('app://porthole/index.html')).toBe(true);
    expect(isAppUrl('app://evil/index.html')).toBe(false);
    expect(isAppUrl('https://porthole/')).toBe(false);
  });
  it('grants only the clipboard, and only to our page', () => {
    expect(permissionAllowed('clipboard-read', 'app://porthole/index.html')).toBe(true);
    expect(permissionAllowed('clipboard-sanitized-write', 'app://porthole/')).toBe(true);
    expect(permissionAllowed('clipboard-read', 'https://example.com/')).toBe(false);
    expect(permissionAllowed('media', 'app://porthole/')).toBe(false);
    expect(permissionAllowed('notifications', 'app://porthole/')).toBe(false);
  });
  it('turns on VA-API decoding only where a render node exists, with escape hatches', () => {
    expect(chromiumSwitches({ platform: 'linux', hasRenderNode: true, env: {} })).toEqual([['enable-features', 'VaapiVideoDecoder,AcceleratedVideoDecodeLinuxGL']]);
    expect(chromiumSwitches({ platform: 'linux', hasRenderNode: false, env: {} })).toEqual([]);
    expect(chromiumSwitches({ platform: 'linux', hasRenderNode: true, env: { PORTHOLE_HW_DECODE: '0' } })).toEqual([['disable-accelerated-video-decode']]);
    // the person's setting off: no VA-API, and on other platforms Chromium's own hardware decode off too
    expect(chromiumSwitches({ platform: 'linux', hasRenderNode: true, env: {}, hardwareDecode: false })).toEqual([['disable-accelerated-video-decode']]);
    expect(chromiumSwitches({ platform: 'win32', hasRenderNode: false, env: {}, hardwareDecode: false })).toEqual([['disable-accelerated-video-decode']]);
    expect(chromiumSwitches({ platform: 'linux', hasRenderNode: true, env: { PORTHOLE_DISABLE_GPU: '1' } })).toEqual([['disable-gpu']]);
    expect(chromiumSwitches({ platform: 'darwin', hasRenderNode: true, env: {} })).toEqual([]);
  });
  it('says in a sentence whether video is decoded on the GPU and why not', () => {
    const linux = { platform: 'linux' as const, hasRenderNode: true, env: {} };
    expect(hardwareDecodeVerdict(linux, { video_decode: 'enabled' })).toEqual({ active: true, reason: expect.stringMatching(/decodes video on the GPU \(video_decode: enabled\)/) });
    expect(hardwareDecodeVerdict(linux, { video_decode: 'disabled_software' })).toEqual({ active: false, reason: expect.stringMatching(/blocklist or has no VA-API/) });
    expect(hardwareDecodeVerdict(linux, { video_decode: 'unavailable_software' })).toEqual({ active: false, reason: expect.stringMatching(/unavailable/) });
    expect(hardwareDecodeVerdict({ ...linux, hasRenderNode: false }, { video_decode: 'enabled' }).reason).toMatch(/no GPU render node/);
    expect(hardwareDecodeVerdict({ ...linux, hardwareDecode: false }, { video_decode: 'enabled' })).toEqual({ active: false, reason: expect.stringMatching(/turned off in this app's settings/) });
    expect(hardwareDecodeVerdict({ ...linux, env: { PORTHOLE_HW_DECODE: '0' } }, {}).reason).toMatch(/PORTHOLE_HW_DECODE=0/);
    expect(hardwareDecodeVerdict({ ...linux, env: { PORTHOLE_DISABLE_GPU: '1' } }, { video_decode: 'enabled' }).active).toBe(false);
    expect(hardwareDecodeVerdict(linux, undefined).reason).toMatch(/has not said/);
  });
  it('reads the device settings; a damaged file means the defaults', () => {
    expect(parseDeviceSettings(undefined)).toEqual({ hardwareDecode: true });
    expect(parseDeviceSettings('{"hardwareDecode": false}')).toEqual({ hardwareDecode: false });
    expect(parseDeviceSettings('{"hardwareDecode": tr')).toEqual({ hardwareDecode: true });
    expect(parseDeviceSettings('null')).toEqual({ hardwareDecode: true });
  });
  it('reads --agent and --kiosk', () => {
    expect(parseLauncherArgs(['main.js', '--agent=http://a:1', '--no-sandbox'])).toEqual({ agentUrl: 'http://a:1', kiosk: false, showPolicy: false, admin: false });
    expect(parseLauncherArgs(['main.js', '--agent', 'http://a:1', '--kiosk'])).toEqual({ agentUrl: 'http://a:1', kiosk: true, showPolicy: false, admin: false });
  });
});

describe('retrying an agent that does not answer', () => {
  it('waits 1 s, then twice as long each time, never more than 30 s, spread ±10 %', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => agentRetryDelayMs(n, mid))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(agentRetryDelayMs(1, () => 0)).toBe(900);
    expect(agentRetryDelayMs(6, () => 0.999999)).toBe(33_000);
    expect(agentRetryDelayMs(0, mid)).toBe(1_000);
  });
});
