import { describe, expect, it } from 'vitest';
import { backoffDelay, retryLine, secondsUntil, STREAM_BACKOFF } from '../../renderer/src/logic/backoff.js';
import { errorCode, errorSentence } from '../../renderer/src/logic/errors.js';
import { elapsedSince, expectedStartHint, formatElapsed } from '../../renderer/src/logic/format.js';
import { isActive, isFinished, startProgress } from '../../renderer/src/logic/phase.js';
import { toWebSocketUrl } from '../../renderer/src/logic/streamUrl.js';
import { PortholeError } from '../../bridge/contract.js';

describe('backoffDelay', () => {
  const middle = () => 0.5; // no jitter
  it('doubles from 0.5 s and stops at 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, STREAM_BACKOFF, middle))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });
  it('spreads by the jitter fraction but never past the cap', () => {
    expect(backoffDelay(3, STREAM_BACKOFF, () => 0)).toBe(1600);
    expect(backoffDelay(3, STREAM_BACKOFF, () => 0.999999)).toBe(2400);
    expect(backoffDelay(10, STREAM_BACKOFF, () => 0.999999)).toBe(10000);
    expect(backoffDelay(10, STREAM_BACKOFF, () => 0)).toBe(8000);
  });
  it('treats nonsense attempts as the first and survives huge ones', () => {
    expect(backoffDelay(0, STREAM_BACKOFF, middle)).toBe(500);
    expect(backoffDelay(-3, STREAM_BACKOFF, middle)).toBe(500);
    expect(backoffDelay(10_000, STREAM_BACKOFF, middle)).toBe(10000);
  });
  it('counts down in whole seconds, never negative', () => {
    expect(secondsUntil(10_000, 7_500)).toBe(3);
    expect(secondsUntil(10_000, 9_999)).toBe(1);
    expect(secondsUntil(10_000, 12_000)).toBe(0);
  });
});

describe('formatting', () => {
  it('formats elapsed time for people', () => {
    expect(formatElapsed(0)).toBe('0 s');
    expect(formatElapsed(4_900)).toBe('4 s');
    expect(formatElapsed(65_000)).toBe('1 min 05 s');
    expect(formatElapsed(2 * 3600_000 + 3 * 60_000)).toBe('2 h 03 min');
    expect(formatElapsed(-5)).toBe('0 s');
  });
  it('says how long a start usually takes, when known', () => {
    expect(expectedStartHint(undefined)).toBeUndefined();
    expect(expectedStartHint(0)).toBeUndefined();
    expect(expectedStartHint(7.6)).toBe('Usually ready in about 8 s');
    expect(expectedStartHint(0.2)).toBe('Usually ready in about 1 s');
    expect(expectedStartHint(150)).toBe('Usually ready in about 3 min');
  });
  it('ticks elapsed time locally from the core figure', () => {
    expect(elapsedSince(4000, 1000, 3500)).toBe(6500);
    // a clock that went backwards does not shrink it
    expect(elapsedSince(4000, 1000, 500)).toBe(4000);
  });
});

describe('phases', () => {
  it('knows which phases are live and which are over', () => {
    expect(['Pending', 'Starting', 'Running'].every((p) => isActive(p as never))).toBe(true);
    expect(isActive('Stopping')).toBe(false);
    expect(isFinished('Stopped') && isFinished('Failed')).toBe(true);
    expect(isFinished('Stopping')).toBe(false);
  });
  it('rests at fixed points without an estimate', () => {
    expect(startProgress('Pending', 60_000)).toBe(0.15);
    expect(startProgress('Starting', 60_000)).toBe(0.5);
    expect(startProgress('connecting', 0)).toBe(0.97);
  });
  it('follows time with an estimate, rises monotonically and never reaches the end', () => {
    const points = [0, 2_000, 5_000, 10_000, 20_000, 100_000].map((ms) => startProgress('Starting', ms, 10));
    for (let i = 1; i < points.length; i++) expect(points[i]!).toBeGreaterThanOrEqual(points[i - 1]!);
    expect(points[0]).toBe(0.35); // Starting is past Pending even at 0 s
    expect(points[2]).toBeCloseTo(0.45);
    expect(points[3]).toBeCloseTo(0.9);
    expect(Math.max(...points)).toBeLessThan(0.97);
    expect(startProgress('Pending', 0, 10)).toBe(0.05);
  });
});

describe('errorSentence', () => {
  it('passes the core sentence through', () => {
    const error = new PortholeError('unauthorized', 'The user name or password is wrong.');
    expect(errorSentence(error)).toBe('The user name or password is wrong.');
    expect(errorCode(error)).toBe('unauthorized');
  });
  it('strips the Electron IPC prefix', () => {
    expect(errorSentence(new Error("Error invoking remote method 'porthole:signIn': PortholeError: The agent is unreachable."))).toBe('The agent is unreachable.');
  });
  it('falls back to a sentence for anything else', () => {
    expect(errorSentence(undefined)).toMatch(/try again/);
    expect(errorSentence({ message: '' }, 'Nope.')).toBe('Nope.');
    expect(errorSentence('plain words')).toBe('plain words');
    expect(errorCode(new Error('x'))).toBeUndefined();
  });
});

describe('toWebSocketUrl', () => {
  it('keeps ws URLs and turns http ones and paths into ws', () => {
    expect(toWebSocketUrl('ws://127.0.0.1:8080/api/v1/sessions/a/vnc?token=t')).toBe('ws://127.0.0.1:8080/api/v1/sessions/a/vnc?token=t');
    expect(toWebSocketUrl('https://agent.example/x?token=t')).toBe('wss://agent.example/x?token=t');
    expect(toWebSocketUrl('/api/v1/sessions/a/vnc?token=t', 'http://127.0.0.1:9000')).toBe('ws://127.0.0.1:9000/api/v1/sessions/a/vnc?token=t');
  });
  it('refuses what is not a stream address', () => {
    expect(() => toWebSocketUrl('file:///etc/passwd')).toThrow(/not a WebSocket address/);
    expect(() => toWebSocketUrl('/relative')).toThrow();
  });
});

describe('retryLine (the agent out of reach)', () => {
  it('counts down to the next try in whole seconds, names the attempt from the second on, and never says "in 0 s"', () => {
    expect(retryLine(10_500, 1, 9_000)).toBe('Trying again in 2 s.');
    expect(retryLine(17_000, 3, 9_000)).toBe('Trying again in 8 s (attempt 3).');
    expect(retryLine(9_000, 3, 9_200)).toBe('Trying again now…');
    expect(retryLine(undefined, undefined, 9_000)).toBe('Porthole keeps trying.');
  });
});
