import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The configuration of the mutation runs (`npm run mutate`, `npm run mutate:sql`; docs/testing.md):
 * the settings of `npm test` without its coverage, and a global setup that starts only the
 * database server (the tests they run need none of the local stack's bundles).
 */
export default defineConfig({
  test: {
    ...base.test,
    globalSetup: ['test/support/database-setup.ts'],
    coverage: { enabled: false },
  },
});
