import { defineConfig } from 'vitest/config';

// Session pods on a real kubelet node (containerd + runc) from the project's own images; global-setup.ts
// starts the control plane and the node once per run.
export default defineConfig({
  test: {
    include: ['test/node/**/*.test.ts'],
    globalSetup: ['test/node/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
