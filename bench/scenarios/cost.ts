import type { Sql } from 'postgres';
import { DEFAULT_FUNCTION_MEMORY_MB } from '../../lib/constructs/checkout-function.js';
import { PAYMENT_SAGA_DEFINITION_FILE } from '../../lib/saga-tasks.js';
import { forEachState, loadAslDefinition } from '../../local/aws/asl.js';
import type { UsageSnapshot } from '../../local/usage.js';
import type { BenchContext } from '../lib/context.js';
import {
  type CheckoutUsage,
  type CostBreakdown,
  durableCost,
  expressCost,
  loadPrices,
  type Prices,
  perCheckout,
  standardCost,
  usageBetween,
} from '../lib/cost.js';
import { startCpuMeter } from '../lib/cpu.js';
import { confirmationLatencies, countInStatus, createProducts } from '../lib/database.js';
import {
  type DatabaseCost,
  type SingleStatementReference,
  singleStatementReference,
  startDatabaseCostMeter,
} from '../lib/database-cost.js';
import { closedLoop, waitUntil } from '../lib/load.js';
import { type PostgresProcessCpu, startPostgresProcessMeter } from '../lib/postgres-processes.js';
import { median, round } from '../lib/stats.js';
import { BENCH_APPLICATION_NAME } from './chaos.js';
import {
  type ContentionProbe,
  NEW_BACKEND_APPLICATION_NAME,
  PROBE_APPLICATION_NAME,
  startContentionProbe,
  VACUUM_APPLICATION_NAME,
} from './cost-decomposition.js';

/** The bench's own connections: their backends are no part of what the checkouts cost. */
export const BENCH_APPLICATION_NAMES = [
  BENCH_APPLICATION_NAME,
  'checkout-bench-reference',
  'checkout-bench-ab',
  PROBE_APPLICATION_NAME,
  NEW_BACKEND_APPLICATION_NAME,
  VACUUM_APPLICATION_NAME,
];

export interface PhaseCost {
  readonly usage: CheckoutUsage;
  /** As built: Step Functions Standard. */
  readonly standard: CostBreakdown;
}

export interface CostResult {
  readonly prices: Pick<Prices, 'date' | 'region' | 'source'>;
  /** Every function's memory (lib/constructs/checkout-function.ts); Lambda GB-seconds use it. */
  readonly memoryMb: number;
  readonly happy: PhaseCost & {
    /** Median POST → CONFIRMED, the saga's time per checkout as the Express estimate bills it. */
    readonly executionMs: number;
    readonly express: CostBreakdown;
    readonly durable: CostBreakdown;
    /**
     * CPU of the function containers per checkout (ms, from /proc): the handlers' own CPU
     * (`usage.handlerCpuMs`) plus the local runtime's (IPC, serialisation), which Lambda does not bill.
     */
    readonly containerCpuMs?: number;
    /** PostgreSQL's cost of these checkouts, decomposed by statement, to the last event published. */
    readonly database?: DatabaseCost & {
      readonly reference: SingleStatementReference;
      /** Every PostgreSQL process's CPU in the window, by kind and by the function its connection serves. */
      readonly processes?: PostgresProcessCpu;
      /** A fixed piece of work on one connection during the window against alone. */
      readonly contention?: ContentionProbe;
    };
  };
  readonly chaos?: PhaseCost;
}

/** The Lambda functions behind the saga's Task states, as local mode names them (local/lambda/template.ts). */
function sagaTaskFunctions(): string[] {
  const names: string[] = [];
  forEachState(loadAslDefinition(PAYMENT_SAGA_DEFINITION_FILE), (stateName, state) => {
    // A function's Resource is its ARN, `${<State>FunctionArn}` before substitution.
    if (state.Type === 'Task' && String(state.Resource).endsWith('FunctionArn}'))
      names.push(`checkout-${stateName}`);
  });
  return names;
}

function usageOptions(events: number) {
  return { memoryMb: DEFAULT_FUNCTION_MEMORY_MB, sagaTaskFunctions: sagaTaskFunctions(), events };
}

/**
 * The events a phase's orders put in the outbox, counted in the database: the relay publishes
 * each once, but on its own schedule, so counting what it sent in the phase would also count
 * earlier phases' backlog.
 */
export async function outboxEventsSince(sql: Sql, since: Date): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox_events where created_at >= ${since}
  `;
  return row?.count ?? 0;
}

/** The database's clock, which stamps the outbox rows. */
export async function databaseNow(sql: Sql): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`select clock_timestamp() as now`;
  return (row as { now: Date }).now;
}

/**
 * Scenario 7a: what a happy card checkout costs. `checkouts` 1-line `pm_card_visa` checkouts at
 * concurrency 4 on spread SKUs; once every order is CONFIRMED and its event published, the stack's
 * counts (local/usage.ts) are differenced and priced with bench/prices.json.
 */
export async function measureHappyCost(
  ctx: BenchContext,
  checkouts: number,
  options: { readonly probe?: boolean } = {},
): Promise<CostResult> {
  const skus = Array.from({ length: 100 }, (_, i) => `${ctx.prefix}-COST-${i}`);
  const onHand = checkouts;
  await createProducts(
    ctx.sql,
    skus.map((sku) => ({ sku, onHand, priceCents: 100 })),
  );
  for (const sku of skus) ctx.initialStock[sku] = onHand;

  const before = await ctx.client.usage();
  const startedAt = await databaseNow(ctx.sql);
  const containers = await startCpuMeter(ctx.target);
  const windowStarted = performance.now();
  const database = await startDatabaseCostMeter({
    sql: ctx.sql,
    ...(ctx.target.postgresPid ? { postgresPid: ctx.target.postgresPid } : {}),
    benchApplicationNames: BENCH_APPLICATION_NAMES,
  });
  const postmasterPid = ctx.target.postgresPid;
  const processes = postmasterPid
    ? await startPostgresProcessMeter({ sql: ctx.sql, postmasterPid, exclude: BENCH_APPLICATION_NAMES })
    : undefined;
  const probe = options.probe ? await startContentionProbe(ctx.target.databaseUrl) : undefined;
  const run = await closedLoop({
    count: checkouts,
    concurrency: 4,
    task: (i) =>
      ctx.client.checkout(`${ctx.prefix}-cost`, `${ctx.prefix}-cost-${i}`, {
        items: [{ sku: skus[i % skus.length] as string, quantity: 1 }],
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        storeCreditCents: 0,
      }),
  });
  const accepted = run.results.filter((exchange) => exchange.orderId);
  const ids = accepted.map((exchange) => exchange.orderId as string);
  if (ids.length !== checkouts)
    throw new Error(`cost scenario: ${checkouts - ids.length} checkouts were refused`);
  await waitUntil(async () => (await countInStatus(ctx.sql, ids, ['CONFIRMED'])) === ids.length, {
    timeoutMs: 60_000,
  });
  // Settled: every event of these orders published too, so the relay's share is in the window.
  await waitUntil(async () => (await unpublishedEvents(ctx.sql, ids)) === 0, { timeoutMs: 60_000 });
  const databaseCost = await database.stop(checkouts);
  const processCpu = await processes?.stop();
  const contention = await probe?.stop();
  // The stack's children but PostgreSQL (which runs apart): the function containers.
  const containerUse = await containers.stop();
  const containerCpuMs =
    containerUse === undefined
      ? undefined
      : round(
          ((containerUse.functions + containerUse.otherChildren) * (performance.now() - windowStarted)) /
            checkouts,
          2,
        );
  const reference = await singleStatementReference(ctx.target.databaseUrl, 10_000);
  const after = await ctx.client.usage();
  const events = await outboxEventsSince(ctx.sql, startedAt);
  const usage = perCheckout(usageBetween(before, after), checkouts, usageOptions(events));
  const prices = loadPrices();
  const executionMs = round(median(await confirmationLatencies(ctx.sql, accepted)));
  ctx.progress.step(
    `  happy checkout: ${usage.stateTransitions} transitions, ${usage.lambdaInvocations} Lambda invocations ` +
      `(${usage.lambdaBilledMs} ms billed, ${usage.coldStarts} cold starts), ` +
      `$${standardCost(usage, prices).totalPerMillionCheckouts} per million`,
  );
  return {
    prices: { date: prices.date, region: prices.region, source: prices.source },
    memoryMb: DEFAULT_FUNCTION_MEMORY_MB,
    happy: {
      usage,
      standard: standardCost(usage, prices),
      executionMs,
      express: expressCost(usage, prices, executionMs),
      durable: durableCost(usage, prices),
      ...(containerCpuMs === undefined ? {} : { containerCpuMs }),
      database: {
        ...databaseCost,
        reference,
        ...(processCpu ? { processes: processCpu } : {}),
        ...(contention ? { contention } : {}),
      },
    },
  };
}

async function unpublishedEvents(sql: Sql, orderIds: readonly string[]): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count
    from outbox_events
    where aggregate_id = any (${orderIds as string[]}::uuid[])
      and published_at is null
  `;
  return row?.count ?? 0;
}

/** Scenario 7b: the chaos mix's usage per checkout sent, from snapshots taken around it. */
export function chaosCost(
  before: UsageSnapshot,
  after: UsageSnapshot,
  options: { readonly checkouts: number; readonly events: number },
): PhaseCost {
  const usage = perCheckout(usageBetween(before, after), options.checkouts, usageOptions(options.events));
  return { usage, standard: standardCost(usage, loadPrices()) };
}
