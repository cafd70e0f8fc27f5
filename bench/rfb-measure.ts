/** Latency and throughput of one RFB path, measured with the same client code for every path. */
import { RfbClient, type Target } from '../test/support/rfb-client.js';
import { percentile, round } from './stats.js';

export interface PathFigures {
  path: string;
  rtt_p50_ms: number;
  rtt_p99_ms: number;
  throughput_MBps: number;
  frames: number;
}

/**
 * RTT: a non-incremental 1x1 update request answered by the server (one round trip through every hop).
 * Throughput: full-screen non-incremental Raw updates (width*height*4 bytes each), back to back.
 */
export async function measurePath(path: string, target: Target, password: string | undefined, rounds: number, frames: number): Promise<PathFigures> {
  const rfb = await RfbClient.connect(target, password);
  try {
    for (let i = 0; i < 5; i++) {
      rfb.requestUpdate(false, 0, 0, 1, 1); // warm-up
      await rfb.nextUpdate();
    }
    const rtts: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      rfb.requestUpdate(false, 0, 0, 1, 1);
      await rfb.nextUpdate();
      rtts.push(performance.now() - t0);
    }
    let bytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) {
      rfb.requestUpdate(false);
      bytes += (await rfb.nextUpdate()).bytes;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      path,
      rtt_p50_ms: round(percentile(rtts, 50), 3),
      rtt_p99_ms: round(percentile(rtts, 99), 3),
      throughput_MBps: round(bytes / 1e6 / seconds, 1),
      frames,
    };
  } finally {
    rfb.close();
  }
}
