/**
 * Glass-to-glass: Porthole's WebRTC streamer against the yardstick (a Selkies-style GStreamer webrtcbin
 * sender, ../shared/anchors/webrtc-gst), same X display, same clock marker, same Chromium, same run.
 * The harness draws a time marker at 250 Hz, reads it from every decoded frame (requestVideoFrameCallback)
 * and reports fps, glass-to-glass and decoded latency, CPU and bitrate. Porthole runs as its PRODUCT_CMD
 * (bench/stream/product.ts: the real streamer, relay and launcher receiver), once per codec.
 * Env: BENCH_SECS (10), BENCH_WARMUP (3), BENCH_REPEAT (2), BENCH_CODECS ("h264 vp9 vp8"), ANCHOR_DIR.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../test/support/processes.js';
import { builtStreamer } from '../test/support/streamer.js';
import { printResult, printTable } from './stats.js';

const anchor = resolve(process.env.ANCHOR_DIR ?? join(repoRoot, '..', 'shared', 'anchors', 'webrtc-gst'));
const secs = process.env.BENCH_SECS ?? '10';
const warmup = process.env.BENCH_WARMUP ?? '3';
const repeat = process.env.BENCH_REPEAT ?? '2';
const codecs = (process.env.BENCH_CODECS ?? 'h264 vp9 vp8').split(/\s+/).filter(Boolean);

interface Case {
  fps_decoded: number;
  g2g_p50_ms: number;
  g2g_p95_ms: number;
  decoded_p50_ms: number;
  cpu_sender_pct: number;
  bitrate_kbps: number;
  codec?: string;
}

function runHarness(productCodec: string, anchorCodecs: string): Record<string, Case> {
  const env = {
    ...process.env,
    SECS: secs,
    WARMUP: warmup,
    REPEAT: repeat,
    CODECS: anchorCodecs,
    SCENES: 'static motion',
    LOWER_BOUND: '0',
    PRODUCT_CODEC: productCodec,
    PRODUCT_CMD: `cd ${JSON.stringify(repoRoot)} && exec ${JSON.stringify(process.execPath)} --import tsx bench/stream/product.ts`,
  };
  console.log(`\n# yardstick run: anchor ${anchorCodecs}, Porthole ${productCodec} (each window ${warmup}+${secs} s, ${repeat} windows)`);
  const run = spawnSync('bash', [join(anchor, 'run.sh')], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  process.stdout.write(run.stdout ?? '');
  const line = (run.stdout ?? '').split('\n').reverse().find((l) => l.startsWith('RESULT '));
  if (run.status !== 0 || !line) throw new Error(`the yardstick harness failed (exit ${run.status})`);
  return (JSON.parse(line.slice(7)) as { cases: Record<string, Case> }).cases;
}

async function main(): Promise<void> {
  if (!existsSync(join(anchor, 'run.sh'))) throw new Error(`no yardstick at ${anchor} (set ANCHOR_DIR)`);
  builtStreamer();
  const rows: Record<string, string | number>[] = [];
  const result: Record<string, unknown> = { benchmark: 'stream', seconds_per_window: Number(secs), windows: Number(repeat) };
  const ratios: Record<string, unknown> = {};
  for (const [i, codec] of codecs.entries()) {
    const cases = runHarness(codec, i === 0 ? 'h264 vp8' : 'h264');
    for (const scene of ['static', 'motion']) {
      const a = cases[`h264/${scene}`];
      const p = cases[`product/${scene}`];
      if (!a || !p) throw new Error(`missing ${scene} results`);
      for (const [who, c] of [[`yardstick h264`, a], [`porthole ${codec}`, p]] as const) {
        rows.push({ scene, streamer: who, fps: c.fps_decoded, g2g_p50: c.g2g_p50_ms, g2g_p95: c.g2g_p95_ms, decoded_p50: c.decoded_p50_ms, cpu_sender: c.cpu_sender_pct, kbps: c.bitrate_kbps });
      }
      if (i === 0 && cases[`vp8/${scene}`]) {
        const v = cases[`vp8/${scene}`]!;
        rows.push({ scene, streamer: 'yardstick vp8', fps: v.fps_decoded, g2g_p50: v.g2g_p50_ms, g2g_p95: v.g2g_p95_ms, decoded_p50: v.decoded_p50_ms, cpu_sender: v.cpu_sender_pct, kbps: v.bitrate_kbps });
      }
      const r = (x: number, y: number) => Math.round((x / y) * 100) / 100;
      ratios[`${codec}/${scene}`] = { fps: r(p.fps_decoded, a.fps_decoded), decoded_p50: r(p.decoded_p50_ms, a.decoded_p50_ms), g2g_p50: r(p.g2g_p50_ms, a.g2g_p50_ms), g2g_p95: r(p.g2g_p95_ms, a.g2g_p95_ms), cpu_sender: r(p.cpu_sender_pct, a.cpu_sender_pct) };
      result[`${codec}/${scene}`] = p;
      result[`yardstick-h264/${scene}/${codec}-run`] = a;
    }
  }
  printTable('WebRTC, 1280x720, Porthole vs the yardstick (same run; latency ms, CPU % of one core)', rows);
  printTable('Porthole / yardstick h264 (targets: fps >= 1.0, decoded p50 <= 0.8, g2g p95 <= 1.0, CPU <= 1.0)', Object.entries(ratios).map(([k, v]) => ({ case: k, ...(v as Record<string, number>) })));
  printResult({ ...result, ratios });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
