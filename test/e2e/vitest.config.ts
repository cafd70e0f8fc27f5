import { defineConfig } from 'vitest/config';

// End-to-end: real agent + real Xvnc desktops + the real renderer and core (web shell) in Debian's Chromium.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts', 'test/electron/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
