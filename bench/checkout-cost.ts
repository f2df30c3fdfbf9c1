/**
 * `npm run bench:cost`: only what one settled happy card checkout costs (scenario 7 of the bench,
 * with PostgreSQL decomposed by statement and the handlers' own CPU per function), on the bench's
 * own local stack or a running one (`--target`, as `npm run bench`). Writes
 * `<out>/checkout-cost.json`, which `npm run capacity` turns into docs/capacity.md's table.
 * Counts are exact on any machine; times are reported with the load the machine had.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createSql } from '../src/db/client.js';
import { BenchClient } from './lib/api.js';
import type { BenchContext } from './lib/context.js';
import { databaseCostSection } from './lib/database-cost-report.js';
import { QUICK } from './lib/options.js';
import { pinPostgresApart } from './lib/pinning.js';
import { startPostgresProcessMeter } from './lib/postgres-processes.js';
import { createProgress } from './lib/progress.js';
import { openTarget } from './lib/stack.js';
import { BENCH_APPLICATION_NAME } from './scenarios/chaos.js';
import { WARM_UP_CHECKOUTS, warmUp } from './scenarios/checkout-load.js';
import { BENCH_APPLICATION_NAMES, measureHappyCost } from './scenarios/cost.js';
import {
  type LoadAb,
  loadAb,
  newBackendCost,
  protocolCost,
  statementCpu,
  vacuumCheckoutTables,
} from './scenarios/cost-decomposition.js';
import { type RoundTripAb, roundTripAb } from './scenarios/round-trip-ab.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    checkouts: { type: 'string', default: '300' },
    out: { type: 'string' },
    target: { type: 'string' },
    'database-url': { type: 'string' },
    'data-dir': { type: 'string' },
    /** Through PgBouncer in transaction mode, as the functions reach the database through RDS Proxy in AWS. */
    pooler: { type: 'boolean', default: false },
    /**
     * PgBouncer's server connections (`--pooler` implied; default its 20, of which the stack uses
     * about ten): fewer backends, each given a statement more often, as RDS Proxy's pool under load.
     */
    'pooler-connections': { type: 'string' },
    /** PostgreSQL on a core of its own, the stack and the bench on the others (bench/lib/pinning.ts). */
    pin: { type: 'boolean', default: false },
    /**
     * Containers each function may run at once (default the local runtime's 8): fewer containers,
     * fewer backends, each given a statement more often.
     */
    containers: { type: 'string' },
    /** Blocks of the interleaved statement A/B (0: none). */
    'ab-blocks': { type: 'string', default: '6' },
    /** Blocks of the one-connection checkout alone and beside the stack's load (0: none). */
    'load-ab-blocks': { type: 'string', default: '4' },
  },
});
const checkouts = Number(values.checkouts);
const containers = values.containers === undefined ? undefined : Number(values.containers);
const poolerConnections =
  values['pooler-connections'] === undefined ? undefined : Number(values['pooler-connections']);
if (poolerConnections !== undefined && !(Number.isInteger(poolerConnections) && poolerConnections > 0)) {
  console.error(`--pooler-connections must be a positive integer, got "${values['pooler-connections']}"`);
  process.exit(2);
}
const pooler = values.pooler || poolerConnections !== undefined;
const outDir = path.resolve(values.out ?? path.join(import.meta.dirname, 'results'));
await mkdir(outDir, { recursive: true });
const progress = createProgress();
const startedAt = new Date();
const prefix = `C${startedAt.getTime().toString(36).toUpperCase()}`;

const target = await openTarget(
  {
    ...(values.target ? { target: values.target } : {}),
    ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    pooler,
    ...(poolerConnections ? { poolerConnections } : {}),
    ...(containers ? { maxContainers: containers } : {}),
  },
  progress.step,
);
const client = new BenchClient(target.apiUrl, target.providerUrl);
const sql = createSql(target.databaseUrl, { max: 4, applicationName: BENCH_APPLICATION_NAME });
let exitCode = 1;
try {
  const ctx: BenchContext = { sizes: QUICK, target, client, sql, progress, prefix, initialStock: {} };
  // The stack's first checkouts start every container and its connections: measured apart, as
  // the warm-up, so the window below is the steady state that long-lived backends behind RDS
  // Proxy see in production.
  let pinned: { postgresCore: number; stackCores: string } | undefined;
  if (values.pin) {
    if (!target.postgresPid || !target.pid) throw new Error('--pin needs the bench to run its own stack');
    pinned = await pinPostgresApart({
      postmasterPid: target.postgresPid,
      stackPid: target.pid,
      cores: cpus().length,
    });
    progress.step(
      `PostgreSQL pinned to core ${pinned.postgresCore}, the stack and the bench to ${pinned.stackCores}`,
    );
  }
  progress.step(`warming up (${WARM_UP_CHECKOUTS} checkouts, measured apart)`);
  const warmUpMeter = target.postgresPid
    ? await startPostgresProcessMeter({
        sql,
        postmasterPid: target.postgresPid,
        exclude: BENCH_APPLICATION_NAMES,
      })
    : undefined;
  await warmUp(ctx);
  const warmUpProcesses = await warmUpMeter?.stop();
  progress.step(`${checkouts} happy card checkouts, measured to the last event published`);
  // The warm-up's dead rows vacuumed first, so the vacuum after the window is the window's own debt.
  await vacuumCheckoutTables(target.databaseUrl);
  const cost = await measureHappyCost(ctx, checkouts, { probe: true });
  progress.step("the window's vacuum debt: VACUUM of the tables the checkouts wrote");
  const vacuumMsPerCheckout = (await vacuumCheckoutTables(target.databaseUrl)) / checkouts;
  progress.step('the protocol: one round trip against two, on one connection');
  const protocol = await protocolCost(target.databaseUrl, { perBlock: 2000, blocks: 6 });
  progress.step('a new backend: connecting and its first checkout against a warm one');
  const newBackend = await newBackendCost(ctx, { connections: 10 });
  progress.step("each of the checkout's statements on one warm connection");
  const statements = await statementCpu(ctx, { checkouts: 500 });
  const abBlocks = Number(values['ab-blocks']);
  let roundTrips: RoundTripAb | undefined;
  if (abBlocks > 0) {
    progress.step(
      `the checkout's statements before and after migration 0015, interleaved (${abBlocks} blocks each)`,
    );
    roundTrips = await roundTripAb(ctx, { perBlock: 100, blocks: abBlocks });
  }
  const loadAbBlocks = Number(values['load-ab-blocks']);
  let besideTheStack: LoadAb | undefined;
  if (loadAbBlocks > 0) {
    progress.step(
      `the checkout's statements on one connection, alone and beside the stack's load (${loadAbBlocks} blocks each)`,
    );
    besideTheStack = await loadAb(ctx, { perBlock: 100, blocks: loadAbBlocks });
    progress.step(
      `  alone ${besideTheStack.aloneMs} ms, beside the stack ${besideTheStack.besideTheStackMs} ms (medians)`,
    );
  }
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    cost,
    ...(pinned ? { pinned } : {}),
    ...(pooler ? { pooler: poolerConnections ? { serverConnections: poolerConnections } : true } : {}),
    ...(containers ? { containersPerFunction: containers } : {}),
    ...(warmUpProcesses ? { warmUp: { checkouts: WARM_UP_CHECKOUTS, processes: warmUpProcesses } } : {}),
    protocol,
    newBackend,
    vacuumMsPerCheckout,
    statementCpu: statements,
    ...(besideTheStack ? { loadAb: besideTheStack } : {}),
    ...(roundTrips ? { roundTripAb: roundTrips } : {}),
  };
  await writeFile(path.join(outDir, 'checkout-cost.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (cost.happy.database)
    console.log(
      databaseCostSection(cost.happy.database, {
        protocol,
        newBackend,
        vacuumMsPerCheckout,
        statementCpu: statements,
        ...(besideTheStack ? { loadAb: besideTheStack } : {}),
        ...(warmUpProcesses ? { warmUp: { checkouts: WARM_UP_CHECKOUTS, processes: warmUpProcesses } } : {}),
        ...(roundTrips ? { roundTripAb: roundTrips } : {}),
      }).join('\n'),
    );
  console.log(`\nresults in ${path.join(outDir, 'checkout-cost.json')}`);
  exitCode = 0;
} catch (error) {
  console.error(
    `bench:cost failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
} finally {
  client.close();
  await sql.end({ timeout: 5 });
  await target.stop();
}
process.exit(exitCode);
