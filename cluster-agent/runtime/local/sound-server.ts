/**
 * The audio role of a local desktop: a PulseAudio server of the session's own, with one null sink
 * (nothing is played on the machine; the streamer captures the sink's monitor when a viewer turns
 * sound on) and one native-protocol socket in the session's audio dir. Pure: the argv.
 *
 * Why these options: no default script (`-n`: nothing of the machine's configuration, no hardware,
 * no D-Bus modules), never exits on idle, no pid file, no realtime or nice changes (the sandbox has
 * no capabilities anyway), module loading closed once started (a desktop program cannot load a module
 * that opens a TCP port or writes files). The socket takes anonymous clients: only this session's
 * sandboxes (desktop, streamer) see the directory it is in, and they run as the same uid. The sink
 * suspends after a second without sound, so a silent desktop costs nothing.
 */

/** The null sink's name; its monitor, `porthole.monitor`, is what the streamer captures. */
export const SINK_NAME = 'porthole';
export const MONITOR_SOURCE = `${SINK_NAME}.monitor`;
export const AUDIO_SOCKET = 'pulse.sock';

/** Pure: the PULSE_SERVER string for a socket path. */
export function pulseServer(socketPath: string): string {
  return `unix:${socketPath}`;
}

/** Pure: pulseaudio's argv for one session, its socket at `socketPath` (as the sandbox sees it). */
export function pulseaudioArgv(pulseaudio: string, socketPath: string): string[] {
  return [
    pulseaudio,
    '--daemonize=no',
    '--exit-idle-time=-1',
    '-n',
    '--use-pid-file=no',
    '--system=no',
    '--realtime=no',
    '--high-priority=no',
    '--disallow-exit',
    '--disallow-module-loading',
    '--log-target=stderr',
    '--log-level=error',
    `--load=module-null-sink sink_name=${SINK_NAME} rate=48000 channels=2 sink_properties=device.description=Porthole`,
    `--load=module-native-protocol-unix socket=${socketPath} auth-anonymous=1 auth-cookie-enabled=0`,
    '--load=module-suspend-on-idle timeout=1',
  ];
}
