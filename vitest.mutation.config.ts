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
  // The saga's steps and its two workers, each on its own over PostgreSQL and the provider.
  'test/saga/steps.test.ts',
  'test/saga/compensation-worker.test.ts',
  'test/saga/saga-start-worker.test.ts',
  // Checkout: the route, the use case, the idempotency records.
  'test/api/checkout.test.ts',
  'test/api/place-order.test.ts',
  'test/api/problems.test.ts',
  'test/local-aws/dynamodb-idempotency.test.ts',
  // The payment gateway and its breaker.
  'test/payments/http-gateway.test.ts',
  'test/payments/circuit-breaker.test.ts',
  'test/payments/provider-credential.test.ts',
  // The order store and the data layer's error mapping.
  'test/db/errors.test.ts',
  'test/db/transitions.test.ts',
  'test/db/place-order.test.ts',
  'test/db/order-function-guards.test.ts',
  'test/db/fewer-round-trips.test.ts',
  'test/db/client.test.ts',
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
