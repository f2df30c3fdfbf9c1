import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests talk to real servers; give them room on a 2-core CI machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Lambda handlers log through Powertools; keep test output to failures.
    env: { POWERTOOLS_LOG_LEVEL: 'CRITICAL', POWERTOOLS_METRICS_DISABLED: 'true' },
    pool: 'forks',
    maxWorkers: 2,
    coverage: {
      enabled: true,
      provider: 'v8',
      include: ['src/**/*.ts', 'lambdas/**/*.ts', 'lib/**/*.ts'],
      reporter: ['text-summary', 'json-summary', 'text'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
    },
  },
});
