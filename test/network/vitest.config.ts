import { defineConfig } from 'vitest/config';

// WebRTC over links that a network namespace makes (tc tbf shaping, nftables dropping UDP, coturn):
// each test starts Xvfb, a streamer and Chromium inside `unshare -n` and measures the stream, so they
// run one at a time, after the rest, with the machine's cores to themselves.
export default defineConfig({
  test: {
    include: ['test/network/**/*.test.ts'],
    testTimeout: 150_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
