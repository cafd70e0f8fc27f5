/** The audio role's sound server: what it is started with (pure). test/agent/webrtc-audio.test.ts runs it for real. */
import { describe, expect, it } from 'vitest';
import { MONITOR_SOURCE, pulseaudioArgv, pulseServer, SINK_NAME } from '../../cluster-agent/runtime/local/sound-server.js';

describe('the audio role', () => {
  it('runs PulseAudio with nothing of the machine\'s: a null sink, one socket, no module loading, no exit on idle', () => {
    const argv = pulseaudioArgv('/usr/bin/pulseaudio', '/run/porthole/audio/pulse.sock');
    expect(argv[0]).toBe('/usr/bin/pulseaudio');
    expect(argv).toEqual(expect.arrayContaining(['--daemonize=no', '--exit-idle-time=-1', '-n', '--disallow-module-loading', '--disallow-exit', '--use-pid-file=no']));
    const loads = argv.filter((a) => a.startsWith('--load='));
    expect(loads.map((l) => l.slice(7).split(' ')[0])).toEqual(['module-null-sink', 'module-native-protocol-unix', 'module-suspend-on-idle']);
    expect(loads[0]).toContain(`sink_name=${SINK_NAME} rate=48000 channels=2`);
    expect(loads[1]).toContain('socket=/run/porthole/audio/pulse.sock');
    expect(MONITOR_SOURCE).toBe(`${SINK_NAME}.monitor`);
    expect(pulseServer('/run/porthole/audio/pulse.sock')).toBe('unix:/run/porthole/audio/pulse.sock');
  });
});
