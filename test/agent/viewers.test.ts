import { describe, expect, it } from 'vitest';
import { Viewers, type Viewer } from '../../cluster-agent/agent/viewers.js';

function viewer(device: string | undefined, log: string[]): Viewer {
  return { ...(device ? { device } : {}), end: (code) => log.push(`${device ?? 'tool'} ${code}`) };
}

describe('viewers: a takeover on another replica', () => {
  it('ends this replica\'s streams from other devices opened before it, not the same device, a tool, or a later stream', () => {
    let now = 1_000;
    const viewers = new Viewers(() => now);
    const ended: string[] = [];
    const onEnded = (v: Viewer) => v.end(4409, 'elsewhere');
    viewers.add('s', viewer('device-a', ended), true, onEnded);
    viewers.add('s', viewer(undefined, ended), false, onEnded);
    viewers.add('s', viewer('device-b', ended), false, onEnded);
    // A takeover here ends the other devices at once, as before.
    viewers.add('s', viewer('device-c', ended), true, onEnded);
    expect(ended).toEqual(['device-a 4409', 'device-b 4409']);
    ended.length = 0;

    now = 3_000;
    viewers.add('t', viewer('device-a', ended), true, onEnded);
    viewers.add('t', viewer('device-b', ended), false, onEnded);
    viewers.add('t', viewer(undefined, ended), false, onEnded);
    viewers.takenOverElsewhere('t', 'device-b', 2_000, onEnded); // opened at 3000: after the takeover
    expect(ended).toEqual([]);
    viewers.takenOverElsewhere('t', 'device-b', 4_000, onEnded);
    expect(ended).toEqual(['device-a 4409']);
    expect(viewers.open('t').map((v) => v.device)).toEqual(['device-b', undefined]);
    viewers.takenOverElsewhere('t', 'device-b', 5_000, onEnded); // nothing left to end
    expect(ended).toEqual(['device-a 4409']);
  });
});
