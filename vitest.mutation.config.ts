import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The configuration of the mutation runs (`npm run mutate`, `npm run mutate:sql`; docs/testing.md):
 * the settings of `npm test` without its coverage, the tests that run the money path in this
 * process (the end-to-end tests run it in child processes, where no mutant is switched on), and a
 * global setup that starts only the database server. `MUTATION_TESTS` (comma-separated globs)
 * narrows the tests for a partial run: fewer tests can only kill fewer mutants, so the score of a
 * partial run is a floor (docs/testing.md, "Mutation testing").
 */
const MONEY_PATH_TESTS = [
  'test/saga/**/*.test.ts',
  'test/api/**/*.test.ts',
  'test/payments/**/*.test.ts',
  'test/db/**/*.test.ts',
  'test/local-aws/**/*.test.ts',
  'test/ops/**/*.test.ts',
  // The migration function's retries are what src/db/errors.ts's "not reachable yet" is for.
  'test/infra/migrate-handler.test.ts',
];

export default defineConfig({
  test: {
    ...base.test,
    include: process.env.MUTATION_TESTS?.split(',') ?? MONEY_PATH_TESTS,
    globalSetup: ['test/support/database-setup.ts'],
    coverage: { enabled: false },
  },
});
