/**
 * `npm run mutate:sql`: removes each guard of the PL/pgSQL order functions in a scratch database
 * and reports which database tests catch it (tools/mutate-sql/run.ts, docs/testing.md).
 */
import { runGuardMutations } from '../tools/mutate-sql/run.js';

process.exitCode = await runGuardMutations(process.argv.slice(2));
