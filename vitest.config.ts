import path from 'node:path';
import { defineConfig } from 'vitest/config';
import moneyPath from './tools/money-path.json' with { type: 'json' };

/** What AWS runs, and the tools around it; only the product has thresholds (docs/testing.md, "Coverage"). */
const PARTS = { product: ['src', 'lambdas', 'lib'], tooling: ['local', 'tools', 'bench', 'bin'] };

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
    // `npm test` (and so CI) runs with --coverage and fails below the thresholds; a run of a few
    // files (`npx vitest run <files>`) measures nothing, so it does not fail them. Counted: what the
    // tests execute in their own processes, not what the local stack runs in its child processes
    // (the emulated Lambda containers): docs/adr/0025-test-evidence-coverage-and-mutation.md.
    coverage: {
      enabled: false,
      provider: 'v8',
      include: Object.values(PARTS).flatMap((folders) => folders.map((folder) => `${folder}/**/*.ts`)),
      reporter: [
        ['text', { skipFull: true }],
        ['json-summary', {}],
        [path.resolve(import.meta.dirname, 'tools/coverage/parts-summary.cjs'), { parts: PARTS }],
      ],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      thresholds: {
        '{src,lambdas,lib}/**': { lines: 90, branches: 80 },
        ...Object.fromEntries(moneyPath.modules.map((module) => [module, { lines: 95 }])),
      },
    },
  },
});
