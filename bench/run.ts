/**
 * `npm run bench`: the benchmark and chaos suite of issue 8 against the local stack (its own, or
 * a running one with `--target`). Writes results.json, summary.md and latency.svg, prints each
 * invariant of the final audit with its count of violations and exits non-zero when any is
 * violated. Performance targets are reported, not asserted: missing one does not fail the run.
 * `--help` lists the options.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Sql } from 'postgres';
import type { UsageSnapshot } from '../local/usage.js';
import { createSql } from '../src/db/client.js';
import { BenchClient } from './lib/api.js';
import { auditSettledSystem, type InvariantReport, report } from './lib/audit.js';
import type { BenchContext } from './lib/context.js';
import { serverVersion } from './lib/database.js';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.js';
import { writeOutputs } from './lib/outputs.js';
import { createProgress } from './lib/progress.js';
import { type BenchResults, evaluateTargets, limitRatios, type MachineInfo } from './lib/results.js';
import { type BenchTarget, openTarget } from './lib/stack.js';
import { measureBundles } from './scenarios/bundles.js';
import { BENCH_APPLICATION_NAME, chaos } from './scenarios/chaos.js';
import { hotSku, spreadLoad, warmUp } from './scenarios/checkout-load.js';
import { chaosCost, databaseNow, measureHappyCost, outboxEventsSince } from './scenarios/cost.js';
import { loadProfile } from './scenarios/load-profile.js';
import { measurePhysicalLimit } from './scenarios/physical-limit.js';
import { measureRoundTrips } from './scenarios/round-trips.js';

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}

const progress = createProgress();
const startedAt = new Date();
const runId = startedAt.getTime().toString(36).toUpperCase();
// Every SKU, customer and key of this run starts with it: runs against one stack never collide.
const prefix = `B${runId}`;
const loadAverageAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
await mkdir(options.outDir, { recursive: true });
progress.step(`${options.quick ? 'quick' : 'full'} run ${runId}; results in ${options.outDir}`);

async function open(): Promise<BenchTarget> {
  try {
    return await openTarget(options.flags, progress.step);
  } catch (error) {
    console.error(`bench cannot reach its target: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

// A running stack is checked before anything else; the bench's own starts after the bundles.
const running = options.flags.target ? await open() : undefined;
// Bundles first, while nothing else runs: cold-import times are the most sensitive to CPU noise.
// They are built inside the repository (ignored by git) so the external SDK resolves from node_modules.
progress.step('5. Lambda bundles: size and cold import');
const bundleDir = path.resolve(import.meta.dirname, 'results', `.bundles-${runId}`);
const bundles = await measureBundles({
  outDir: bundleDir,
  importRuns: options.sizes.bundles.importRuns,
  progress,
}).finally(() => rm(bundleDir, { recursive: true, force: true }));

const target = running ?? (await open());
const client = new BenchClient(target.apiUrl, target.providerUrl);
const sql: Sql = createSql(target.databaseUrl, { max: 6, applicationName: BENCH_APPLICATION_NAME });
let exitCode = 1;
try {
  const ctx: BenchContext = {
    sizes: options.sizes,
    target,
    client,
    sql,
    progress,
    prefix,
    initialStock: {},
  };
  const machine = await machineInfo(sql, loadAverageAtStart);
  progress.step(`stack ready at ${target.apiUrl}; warming up`);
  await warmUp(ctx);

  // Right after the warm-up, while the relay has no backlog from the other scenarios.
  progress.step('7. Cost per checkout: happy card checkouts');
  const happyCost = await measureHappyCost(ctx, options.sizes.cost.checkouts);

  progress.step('1. Hot SKU');
  const hot = await hotSku(ctx);
  progress.step('2. Spread load');
  const spread = await spreadLoad(ctx);
  progress.step('4. Round trips and rows per checkout');
  const roundTrips = await measureRoundTrips(ctx);
  progress.step('3. Physical limit');
  const physicalLimit = await measurePhysicalLimit(ctx);
  // After the database's own limits: the profile leaves thousands of orders whose outbox events the
  // relay publishes for a while, which would share the database with those loops.
  progress.step('8. Load profile: staged ramp, then a constant arrival rate');
  const load = await loadProfile(ctx);
  progress.step('6. Chaos mix');
  let chaosStart: { usage: UsageSnapshot; at: Date } | undefined;
  const chaosResult = await chaos(ctx, {
    beforeLoad: async () => {
      chaosStart = { usage: await client.usage(), at: await databaseNow(sql) };
    },
  });
  if (!chaosStart) throw new Error('the chaos mix never started its load');
  const cost = {
    ...happyCost,
    chaos: chaosCost(chaosStart.usage, await client.usage(), {
      checkouts: options.sizes.chaos.checkouts,
      events: await outboxEventsSince(sql, chaosStart.at),
    }),
  };

  progress.step('Invariant audit');
  const checks: InvariantReport[] = [
    chaosResult.dlqAudit,
    chaosResult.duplicateOrders,
    chaosResult.healthyCardOrders,
    report(
      'hot SKU: accepted checkouts equal the stock',
      hot.acceptedEqualsStock ? [] : [{ accepted: hot.accepted, stock: hot.stock }],
    ),
    report(
      'every accepted card order of the load scenarios reached CONFIRMED',
      [hot, ...spread.runs]
        .filter((run) => run.unconfirmed > 0)
        .map((run) => ({ concurrency: run.concurrency, unconfirmed: run.unconfirmed })),
    ),
    report(
      'every accepted order of the load profile reached CONFIRMED',
      load.unconfirmed > 0 ? [{ unconfirmed: load.unconfirmed }] : [],
    ),
  ];
  // On a pool of its own: the chaos mix restarted PostgreSQL under the run's pool, and a connection
  // the server cut while idle can fail the next statement sent on it.
  const auditSql = createSql(target.databaseUrl, { max: 2, applicationName: BENCH_APPLICATION_NAME });
  const reports = await auditSettledSystem({
    sql: auditSql,
    ledger: await client.ledger(),
    initialStock: ctx.initialStock,
    earlier: checks,
  }).finally(() => auditSql.end({ timeout: 5 }));
  const violations = reports.reduce((sum, r) => sum + r.violations, 0);
  for (const r of reports) {
    console.log(`${r.violations === 0 ? 'ok  ' : 'FAIL'} ${String(r.violations).padStart(5)}  ${r.name}`);
    if (r.violations > 0) console.log(`             e.g. ${JSON.stringify(r.examples)}`);
  }

  const scenarios = {
    hotSku: hot,
    spread,
    loadProfile: load,
    physicalLimit,
    roundTrips,
    bundles,
    chaos: chaosResult,
    cost,
  };
  const ratios = limitRatios(scenarios);
  const finishedAt = new Date();
  const results: BenchResults = {
    meta: {
      runId,
      mode: options.quick ? 'quick' : 'full',
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
      target: { ownStack: target.owned, apiUrl: target.apiUrl },
      machine,
    },
    scenarios,
    ratios,
    targets: evaluateTargets(scenarios, ratios, violations),
    audit: { reports, violations, passed: violations === 0 },
  };
  await writeOutputs(options.outDir, results);

  for (const t of results.targets)
    console.log(`target ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.measured}`);
  console.log(
    `audit ${violations === 0 ? 'passed' : 'FAILED'}: ${violations} invariant violation(s); ` +
      `results in ${path.relative(process.cwd(), options.outDir) || '.'}`,
  );
  exitCode = violations === 0 ? 0 : 1;
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  client.close();
  await sql.end({ timeout: 5 });
  progress.step(target.owned ? 'stopping the local stack' : 'done');
  await target.stop();
}
process.exit(exitCode);

async function machineInfo(db: Sql, loadAverage: number): Promise<MachineInfo> {
  const pgbench = await promisify(execFile)('pgbench', ['--version'])
    .then(({ stdout }) => stdout.trim())
    .catch(() => undefined);
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    postgres: await serverVersion(db),
    ...(pgbench ? { pgbench } : {}),
    loadAverageAtStart: loadAverage,
  };
}
