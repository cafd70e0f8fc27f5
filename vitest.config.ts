import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/e2e/**', 'test/cluster/**', 'test/node/**', 'test/electron/**', 'test/network/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // test/e2e, test/electron, test/cluster and test/network have their own configs (browser, Electron,
    // control plane, network namespaces).
    // Real Xvnc desktops and servers: keep files in separate processes, but don't overload 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
