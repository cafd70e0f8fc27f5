import { defineConfig } from 'vitest/config';

// Tests against a real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) that
// global-setup.ts starts once per run; build/cluster/build-binaries.sh builds it the first time.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
