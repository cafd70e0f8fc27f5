import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/e2e/**', 'test/cluster/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real Xvnc desktops and servers: keep files in separate processes, but don't overload 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
