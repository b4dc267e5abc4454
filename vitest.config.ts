import { defineConfig } from 'vitest/config';

// unit: no root, recorded lines as fixtures. kernel: real bpftrace in the project's own lab, run as root by
// `npm test` and CI. Files run one at a time: kernel tests share one kernel (and unit tests take < 1 s).
export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'kernel',
          include: ['test/kernel/**/*.test.ts'],
          globalSetup: ['test/kernel/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
