import type { StreamStats } from '../session/stream.js';

/** The stats overlay: what the stream is doing now, as the browser measures it. */
export function StatsPanel({ stats }: { stats: StreamStats }) {
  const rows: Array<[string, string | undefined]> = [
    ['protocol', stats.protocol === 'webrtc' ? 'WebRTC' : 'VNC'],
    ['codec', stats.codec],
    ['decoder', stats.decoder ? `${stats.decoder}${stats.hardwareDecoder === undefined ? '' : stats.hardwareDecoder ? ' (hardware)' : ' (software)'}` : undefined],
    ['resolution', stats.width && stats.height ? `${stats.width}×${stats.height}` : undefined],
    ['frame rate', stats.fps !== undefined ? `${stats.fps} fps` : undefined],
    ['bitrate', stats.kbps !== undefined ? `${(stats.kbps / 1000).toFixed(2)} Mbit/s` : undefined],
    ['round trip', stats.rttMs !== undefined ? `${stats.rttMs} ms` : undefined],
    ['lost packets', stats.packetsLost !== undefined ? String(stats.packetsLost) : undefined],
    ['jitter', stats.jitterMs !== undefined ? `${stats.jitterMs} ms` : undefined],
    ['receiver delay', stats.receiverDelayMs !== undefined ? `${stats.receiverDelayMs} ms (buffer + decode)` : undefined],
    ['path', stats.path],
    ['sound', stats.audioCodec ? `${stats.audioCodec}, level ${(stats.audioLevel ?? 0).toFixed(2)}` : undefined],
  ];
  return (
    <dl className="stats-panel" data-testid="stats-panel" aria-label="Stream statistics">
      {rows
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => (
          <div key={k} style={{ display: 'contents' }}>
            <dt>{k}</dt>
            <dd data-stat={k}>{v}</dd>
          </div>
        ))}
    </dl>
  );
}
