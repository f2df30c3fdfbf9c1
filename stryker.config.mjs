// `npm run mutate`: mutation testing of the money path's TypeScript (docs/testing.md, "Mutation
// testing"; docs/adr/0025-test-evidence-coverage-and-mutation.md).
import moneyPath from './tools/money-path.json' with { type: 'json' };

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The tests of the money path on a database-only global setup; `related: false` because the saga
  // tests reach the step handlers through the ASL's task table, an import vite's graph cannot see.
  // Forks, as in `npm test`: the tests start servers and change process-wide state.
  vitest: { configFile: 'vitest.mutation.config.ts', related: false, pool: 'forks' },
  // The money path, listed once for this and for the coverage thresholds (vitest.config.ts).
  mutate: moneyPath.modules,
  // Log statements are not mutated (their reason is in the ignorer).
  plugins: ['@stryker-mutator/vitest-runner', './tools/mutate/ignore-logging.mjs'],
  ignorers: ['Logging'],
  // Each mutant runs only the tests that reached it in the dry run.
  coverageAnalysis: 'perTest',
  // A mutant in module-level code runs before any test, so every test would have to run for it.
  ignoreStatic: true,
  // One test process at a time: the machine is shared, and each mutant run starts its own databases.
  concurrency: 1,
  // The tests talk to a real PostgreSQL and real stand-ins; a slow machine must not read as a kill.
  timeoutMS: 30_000,
  timeoutFactor: 2,
  thresholds: { high: 90, low: 85, break: 85 },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
