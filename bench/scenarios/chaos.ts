import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { approximateQueueDepth, createLocalSqsClient, redriveDlq } from '../../local/aws/sqs.js';
import { failedRecords } from '../../local/faults/record-failures.js';
import type { CheckoutBody, CheckoutExchange } from '../lib/api.js';
import { auditDlqAgainstTable, type InvariantReport, report } from '../lib/audit.js';
import type { BenchContext } from '../lib/context.js';
import { auditHealthyCardOrders } from '../lib/invariants.js';
import { closedLoop, waitUntil } from '../lib/load.js';
import { distribution, type LatencySummary, round, summarize } from '../lib/stats.js';

/** The test payment methods (docs/local.md) and how often the chaos mix uses each. */
export const PAYMENT_MIX: readonly [method: string, weight: number][] = [
  ['pm_card_visa', 45],
  ['pm_card_declined', 10],
  ['pm_card_flaky', 10],
  ['pm_auth_timeout', 5],
  ['pm_capture_fails', 15],
  ['pm_void_fails', 15],
];

/** Provider faults outside the outage: some latency and a few transient errors on every call. */
const BASELINE_FAULTS = { latencyMs: 25, errorRate: 0.05 };
/** Share of checkouts a client sends twice at once with the same key (a retry racing the first try). */
const DUPLICATE_SHARE = 0.05;
/** Share of successful provider side effects whose record the stack fails (LOCAL_FAULT_RECORD_FAILURE_RATE). */
const RECORD_FAILURE_RATE = 0.05;
/** How often, during the load, the bench kills a share of the stack's database connections. */
const TERMINATE_EVERY_MS = 1500;
const TERMINATE_SHARE = 0.5;
/** How long the DLQ may lag behind the compensations the worker marked FAILED. */
const DLQ_CATCH_UP_MS = 60_000;
/** The bench's own connections, which it never terminates (run.ts names its pool so). */
export const BENCH_APPLICATION_NAME = 'checkout-bench';
/** The mix is drawn from a fixed seed, so two runs send the same requests. */
const SEED = 8;

export interface ChaosResult {
  readonly checkouts: number;
  readonly concurrency: number;
  readonly seed: number;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly paymentMethods: Record<string, number>;
  readonly withStoreCredit: number;
  readonly duplicatesSent: number;
  /** What the copies of the requests sent twice were answered. */
  readonly duplicateAnswers: Record<string, number>;
  /** Requests sent twice at once that were both accepted, but as two different orders. */
  readonly duplicateOrders: InvariantReport;
  readonly statuses: Record<string, number>;
  readonly post: LatencySummary;
  readonly postDistribution: [number, number][];
  /** What was done to the provider and the database, in milliseconds from the start of the load. */
  readonly faults: { readonly atMs: number; readonly action: string }[];
  /** Database faults injected: restarts, connections terminated, records failed after a side effect. */
  readonly databaseFaults: DatabaseFaults;
  /** Final status of this scenario's orders, and why the cancelled ones were cancelled. */
  readonly orders: Record<string, number>;
  readonly cancellationReasons: Record<string, number>;
  /** Final status (and cancellation reason) of the accepted orders by payment method; full store credit apart. */
  readonly byPaymentMethod: Record<string, Record<string, number>>;
  /** Compensations the saga could not finish (queued), and how many of them were resolved in the end. */
  readonly compensations: { readonly recorded: number; readonly resolved: number };
  /** Compensations the worker gave up on (FAILED), the DLQ before the redrive, redrives and messages moved. */
  readonly dlq: {
    readonly failedBeforeRedrive: number;
    readonly messagesBeforeRedrive: number;
    readonly redrives: number;
    readonly moved: number;
  };
  /** Load end until nothing was in flight (faults still on); then until all was settled after the redrive. */
  readonly drainMs: number;
  readonly settleMs: number;
  readonly settled: boolean;
  readonly dlqAudit: InvariantReport;
  /** This run's pm_card_visa orders the provider never failed, yet cancelled: by an infrastructure fault (goal 0). */
  readonly healthyCardOrders: InvariantReport;
}

export interface DatabaseFaults {
  /** PostgreSQL restarts by mode (`pg_ctl restart -m fast | immediate`); none when the bench does not own the server. */
  readonly restarts: { readonly fast: number; readonly immediate: number };
  /** Rounds of `pg_terminate_backend` on the stack's connections, and connections terminated. */
  readonly terminations: { readonly rounds: number; readonly connections: number };
  /** Records failed right after a provider side effect, by effect (counted in the database). */
  readonly recordFailures: {
    readonly rate: number;
    readonly total: number;
    readonly byEffect: Record<string, number>;
  };
}

interface ChaosRequest {
  readonly customerId: string;
  readonly key: string;
  readonly body: CheckoutBody;
  readonly duplicate: boolean;
}

/**
 * Scenario 6: a few thousand checkouts with random test payment methods and store credit, a
 * provider with latency and injected errors and a mid-run outage (every call fails for a few
 * seconds). Then, with the faults still on, it waits until nothing is in flight, checks that every
 * compensation the worker gave up on is in the DLQ and in the audit table, clears the faults,
 * redrives the DLQ as an operator would (`npm run redrive`) and waits until the system settles.
 * The invariant audit runs after this, on the settled system.
 */
export async function chaos(
  ctx: BenchContext,
  hooks: {
    /** Runs once the stack is as the mix needs it (restarted, which resets its usage meter), before the load. */
    readonly beforeLoad?: () => Promise<void>;
  } = {},
): Promise<ChaosResult> {
  const { checkouts } = ctx.sizes.chaos;
  const random = mulberry32(SEED);
  const { prices, customers } = await seedChaosFixtures(ctx, checkouts);
  const requests = Array.from({ length: checkouts }, (_, i) =>
    chaosRequest(ctx.prefix, i, random, prices, customers),
  );

  const sqs = createLocalSqsClient(ctx.target.state.sqsEndpoint);
  const dlqUrl = await queueUrl(sqs, ctx.target.state.compensationDlqArn);
  const faults = new FaultLog();
  try {
    const recordFailureRate = await prepareFaults(ctx, faults, hooks);
    const load = await loadUnderFaults(ctx, faults, requests);
    const loadEnd = performance.now();
    const orderIds = [...new Set(load.exchanges.flatMap((e) => (e.orderId ? [e.orderId] : [])))];
    ctx.progress.step(`  draining with the faults still on (${orderIds.length} orders accepted)`);
    const { drained, drainMs } = await untilNothingInFlight(ctx, loadEnd);
    const dlq = await dlqAfterTheLoad(ctx, sqs, dlqUrl);
    ctx.progress.step(
      `  ${dlq.failed} compensations failed for good, ${dlq.inDlq.length} in the DLQ: clearing faults, redriving`,
    );
    const redrive = await clearFaultsAndRedrive(ctx, faults, sqs, dlqUrl);

    const result: ChaosResult = {
      ...(await resultOfTheLoad(ctx, requests, load)),
      faults: faults.entries,
      databaseFaults: {
        restarts: load.restarts,
        terminations: load.terminations,
        recordFailures: { rate: recordFailureRate, ...(await recordFailures(ctx, orderIds)) },
      },
      ...(await outcomes(ctx, orderIds)),
      dlq: {
        failedBeforeRedrive: dlq.failed,
        messagesBeforeRedrive: dlq.inDlq.length,
        redrives: redrive.redrives,
        moved: redrive.moved,
      },
      drainMs: round(drainMs),
      settleMs: round(redrive.settleMs),
      settled: drained && redrive.settled,
      dlqAudit: dlq.audit,
      healthyCardOrders: await auditHealthyCardOrders(ctx.sql, await ctx.client.ledger(), orderIds),
    };
    ctx.progress.step(
      `  orders ${JSON.stringify(result.orders)}, compensations ${JSON.stringify(result.compensations)}, ` +
        `settled in ${Math.round(drainMs + redrive.settleMs)} ms`,
    );
    return result;
  } finally {
    await ctx.client.clearFaults().catch(() => {});
    sqs.destroy();
  }
}

/** What was done to the provider and the database, in milliseconds from the start of the scenario. */
class FaultLog {
  readonly entries: { atMs: number; action: string }[] = [];
  private readonly started = performance.now();

  /** Applies a fault, then logs it. */
  async apply(action: string, apply: () => Promise<void>): Promise<void> {
    await apply();
    this.entries.push({ atMs: Math.round(performance.now() - this.started), action });
  }
}

/**
 * The stack restarted with record failures injected (when the bench owns it), then the provider's
 * baseline latency and errors. Returns the record-failure rate in force.
 */
async function prepareFaults(
  ctx: BenchContext,
  faults: FaultLog,
  hooks: { readonly beforeLoad?: () => Promise<void> },
): Promise<number> {
  let recordFailureRate = 0;
  const { restartStack } = ctx.target;
  if (restartStack) {
    ctx.progress.step(`  restarting the stack with LOCAL_FAULT_RECORD_FAILURE_RATE=${RECORD_FAILURE_RATE}`);
    await faults.apply(`record failures after ${RECORD_FAILURE_RATE * 100} % of provider side effects`, () =>
      restartStack({ LOCAL_FAULT_RECORD_FAILURE_RATE: String(RECORD_FAILURE_RATE) }),
    );
    recordFailureRate = RECORD_FAILURE_RATE;
  }
  await hooks.beforeLoad?.();
  await faults.apply(`latency ${BASELINE_FAULTS.latencyMs} ms, error rate ${BASELINE_FAULTS.errorRate}`, () =>
    ctx.client.setFaults(BASELINE_FAULTS),
  );
  return recordFailureRate;
}

interface LoadUnderFaults {
  readonly elapsedMs: number;
  readonly exchanges: CheckoutExchange[];
  /** The first and second answers of the requests sent twice at once. */
  readonly pairs: (readonly [CheckoutExchange, CheckoutExchange])[];
  readonly restarts: DatabaseFaults['restarts'];
  readonly terminations: DatabaseFaults['terminations'];
}

/**
 * The checkouts in a closed loop while the faults happen: the provider outage at 40 % of them,
 * PostgreSQL restarted fast at 25 % and immediate at 70 % (when the bench owns the server), and a
 * share of the stack's connections terminated every {@link TERMINATE_EVERY_MS}.
 */
async function loadUnderFaults(
  ctx: BenchContext,
  faults: FaultLog,
  requests: readonly ChaosRequest[],
): Promise<LoadUnderFaults> {
  const { checkouts, concurrency, outageMs } = ctx.sizes.chaos;
  const { restartDatabase } = ctx.target;
  const restarts = { fast: 0, immediate: 0 };
  const terminations = { rounds: 0, connections: 0 };
  let outage: Promise<void> | undefined;
  const outageAt = Math.floor(checkouts * 0.4);
  // The two restarts fall outside the provider outage, so each fault is seen on its own too.
  const databaseRestarts = new Map<number, 'fast' | 'immediate'>(
    restartDatabase
      ? [
          [Math.floor(checkouts * 0.25), 'fast'],
          [Math.floor(checkouts * 0.7), 'immediate'],
        ]
      : [],
  );
  const restarting: Promise<void>[] = [];
  let faultError: unknown;
  const stopTerminating = terminateConnectionsEvery(ctx, TERMINATE_EVERY_MS, (killed) => {
    terminations.rounds += 1;
    terminations.connections += killed;
  });
  try {
    ctx.progress.step(
      `  ${checkouts} checkouts at concurrency ${concurrency}, provider outage at ${outageAt}` +
        `, PostgreSQL restarts at ${[...databaseRestarts].map(([at, mode]) => `${at} (${mode})`).join(', ') || "none (not the bench's server)"}` +
        `, connections terminated every ${TERMINATE_EVERY_MS} ms`,
    );
    const run = await closedLoop({
      count: checkouts,
      concurrency,
      task: (i) => {
        const restartMode = databaseRestarts.get(i);
        if (restartMode && restartDatabase) {
          restarting.push(
            faults
              .apply(`PostgreSQL restart -m ${restartMode}`, async () => {
                await restartDatabase(restartMode);
                restarts[restartMode] += 1;
              })
              .catch((error: unknown) => {
                // Reported after the load, not as an unhandled rejection in the middle of it.
                faultError ??= error;
              }),
          );
        }
        if (i === outageAt) {
          outage = (async () => {
            await faults.apply('outage: error rate 1', () => ctx.client.setFaults({ errorRate: 1 }));
            await new Promise((resolve) => setTimeout(resolve, outageMs));
            await faults.apply('outage over: back to the baseline faults', () =>
              ctx.client.setFaults(BASELINE_FAULTS),
            );
          })().catch((error: unknown) => {
            faultError ??= error;
          });
        }
        return send(ctx, requests[i] as ChaosRequest);
      },
      onProgress: (done, total) => ctx.progress.tick('answered', done, total),
    });
    await outage;
    await Promise.all(restarting);
    if (faultError) throw faultError;
    return {
      elapsedMs: run.elapsedMs,
      exchanges: run.results.map((sent) => sent.first),
      pairs: run.results.flatMap((sent) => (sent.second ? [[sent.first, sent.second] as const] : [])),
      restarts,
      terminations,
    };
  } finally {
    stopTerminating();
  }
}

/** Waits, with the faults still on, until no order and no compensation is in flight; `drainMs` from `since`. */
async function untilNothingInFlight(ctx: BenchContext, since: number) {
  const { settleTimeoutMs } = ctx.sizes.chaos;
  const drained = await waitUntil(
    async () => {
      const state = await inFlight(ctx);
      ctx.progress.note(
        `in flight: ${state.pending} PENDING, ${state.authorized} AUTHORIZED, ` +
          `${state.attention} REQUIRES_ATTENTION, ${state.retrying} compensations retrying`,
      );
      return state.total === 0;
    },
    { timeoutMs: settleTimeoutMs, intervalMs: 500 },
  );
  const drainMs = performance.now() - since;
  if (!drained)
    ctx.progress.step(
      `  still in flight after ${settleTimeoutMs} ms: ${JSON.stringify(await inFlight(ctx))}`,
    );
  return { drained, drainMs };
}

/**
 * The compensations the worker gave up on, and the DLQ once each of their messages is there,
 * checked against the audit table.
 */
async function dlqAfterTheLoad(ctx: BenchContext, sqs: SQSClient, dlqUrl: string) {
  // The worker marks a compensation FAILED on its last attempt; SQS moves the message to the
  // DLQ at the first receive after that attempt's visibility timeout. Locally a poller receives
  // in rounds (local/lambda/local-differences.ts), so behind a backlog of other
  // compensations that receive can come tens of seconds later. Wait for each FAILED
  // compensation's own message, not for a count: a compensation queued twice (a QueueCompensation
  // send retried after its answer was lost, a worker's re-send whose answer was lost) can have
  // two messages there, which would make up the count before every FAILED one has arrived.
  const failed = await countFailed(ctx);
  await waitUntil(
    async () => {
      if ((await approximateQueueDepth(sqs, dlqUrl)) < failed) return false;
      const present = new Set(await peekDlq(sqs, dlqUrl));
      return (await failedCompensationIds(ctx)).every((id) => present.has(id));
    },
    {
      timeoutMs: Math.max((ctx.target.compensationRetrySeconds + 5) * 1000, DLQ_CATCH_UP_MS),
      intervalMs: 250,
    },
  );
  const inDlq = await peekDlq(sqs, dlqUrl);
  return { failed, inDlq, audit: await auditDlqAgainstTable(ctx.sql, inDlq) };
}

/**
 * Clears the faults and redrives the DLQ as `npm run redrive` does, again whenever a late message
 * lands there, until nothing is in flight, nothing unresolved and the DLQ empty.
 */
async function clearFaultsAndRedrive(ctx: BenchContext, faults: FaultLog, sqs: SQSClient, dlqUrl: string) {
  const { settleTimeoutMs } = ctx.sizes.chaos;
  const started = performance.now();
  await faults.apply('faults cleared (DELETE /control/faults)', () => ctx.client.clearFaults());
  let redrives = 0;
  let moved = 0;
  let lastRedrive = 0;
  const settled = await waitUntil(
    async () => {
      const depth = await approximateQueueDepth(sqs, dlqUrl);
      // A compensation whose last attempt raced the clear lands in the DLQ later: redrive again.
      if (depth > 0 && performance.now() - lastRedrive > 3000) {
        lastRedrive = performance.now();
        redrives += 1;
        moved += await redriveDlq(sqs, {
          dlqArn: ctx.target.state.compensationDlqArn,
          sourceArn: ctx.target.state.compensationQueueArn,
        });
        return false;
      }
      const { total, unresolved } = await inFlight(ctx);
      return depth === 0 && total === 0 && unresolved === 0;
    },
    { timeoutMs: settleTimeoutMs, intervalMs: 500 },
  );
  const settleMs = performance.now() - started;
  if (!settled)
    ctx.progress.step(`  not settled after ${settleTimeoutMs} ms: ${JSON.stringify(await inFlight(ctx))}`);
  return { redrives, moved, settled, settleMs };
}

/** What the requests were and how they were answered. */
async function resultOfTheLoad(ctx: BenchContext, requests: readonly ChaosRequest[], load: LoadUnderFaults) {
  const { checkouts, concurrency } = ctx.sizes.chaos;
  const { exchanges, pairs } = load;
  return {
    checkouts,
    concurrency,
    seed: SEED,
    elapsedMs: round(load.elapsedMs),
    requestsPerSecond: round(checkouts / (load.elapsedMs / 1000), 1),
    paymentMethods: tally(requests.map((r) => r.body.paymentMethod)),
    withStoreCredit: requests.filter((r) => r.body.storeCreditCents > 0).length,
    duplicatesSent: requests.filter((r) => r.duplicate).length,
    duplicateAnswers: tally(pairs.map(([, second]) => answer(second))),
    duplicateOrders: report(
      'a request sent twice at once placed one order at most',
      pairs
        .filter(([a, b]) => a.orderId && b.orderId && a.orderId !== b.orderId)
        .map(([a, b]) => ({ first: a.orderId, second: b.orderId })),
    ),
    statuses: tally(exchanges.map(answer)),
    post: summarize(exchanges.map((e) => e.ms)),
    postDistribution: distribution(exchanges.map((e) => e.ms)),
  };
}

/**
 * Every `everyMs`, terminates a share of the stack's connections to its database from the bench's
 * own (`pg_terminate_backend`), as a proxy or a network blip would cut them. Returns the stop.
 */
function terminateConnectionsEvery(
  ctx: BenchContext,
  everyMs: number,
  onRound: (terminated: number) => void,
): () => void {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  const round = async () => {
    try {
      const [row] = await ctx.sql<{ terminated: number }[]>`
        select count(*) filter (where pg_terminate_backend(pid))::int as terminated
        from pg_stat_activity
        where backend_type = 'client backend'
          and pid <> pg_backend_pid()
          and application_name <> ${BENCH_APPLICATION_NAME}
          and datname = current_database()
          and random() < ${TERMINATE_SHARE}
      `;
      onRound(row?.terminated ?? 0);
    } catch {
      // The server is restarting: this round has nothing to terminate.
    }
    if (running) timer = setTimeout(() => void round(), everyMs);
  };
  timer = setTimeout(() => void round(), everyMs);
  return () => {
    running = false;
    clearTimeout(timer);
  };
}

/**
 * The records that failed right after their side effect, for this run's orders: counted where they
 * failed, in the database (local/faults/record-failures.ts), not where they were planned, so a
 * record the product never came to write is not counted. None when nothing was injected.
 */
async function recordFailures(ctx: BenchContext, orderIds: readonly string[]) {
  const ours = new Set(orderIds);
  const failed = await failedRecords(ctx.sql).catch(() => [] as string[]);
  const effects = failed.flatMap((key) => {
    const [effect = '', orderId = ''] = key.split(':');
    return ours.has(orderId) ? [effect] : [];
  });
  return { total: effects.length, byEffect: tally(effects) };
}

interface Sent {
  readonly first: CheckoutExchange;
  /** The copy of a request sent twice at once. */
  readonly second?: CheckoutExchange;
}

async function send(ctx: BenchContext, request: ChaosRequest): Promise<Sent> {
  const attempt = () => ctx.client.checkout(request.customerId, request.key, request.body);
  if (!request.duplicate) return { first: await attempt() };
  // The same request twice at once: one order at most; the other answer is a replay or "in use".
  const [first, second] = await Promise.all([attempt(), attempt()]);
  return { first, second };
}

const answer = (e: CheckoutExchange) =>
  e.status === 0 ? `error: ${e.error}` : `${e.status}${e.code ? ` ${e.code}` : ''}`;

/** Chaos SKUs (stock that runs out for some carts) and customers with wallets (a few nearly empty). */
async function seedChaosFixtures(ctx: BenchContext, checkouts: number) {
  const skuCount = 200;
  // About 3 units per checkout are asked for and ~4 per checkout are stocked: most carts find
  // stock, the hot SKU (in 1 cart of 5) runs out and some carts are refused OUT_OF_STOCK.
  const stock = Math.max(3, Math.round(checkouts / 60));
  const prices = new Map<string, number>();
  for (let i = 0; i < skuCount; i++) {
    const sku = `${ctx.prefix}-C-${String(i).padStart(3, '0')}`;
    prices.set(sku, 500 + i * 5);
    ctx.initialStock[sku] = stock;
  }
  const hot = `${ctx.prefix}-C-HOT`;
  prices.set(hot, 1999);
  ctx.initialStock[hot] = stock * 5;
  await Promise.all(
    [...prices].map(([sku, priceCents]) =>
      ctx.client.putProduct(sku, {
        name: `Chaos ${sku}`,
        priceCents,
        onHand: ctx.initialStock[sku] as number,
      }),
    ),
  );
  const customers = Array.from({ length: 100 }, (_, i) => `${ctx.prefix}-cust-${String(i).padStart(3, '0')}`);
  await Promise.all(customers.map((c, i) => ctx.client.putWallet(c, i < 80 ? 1_000_000 : 700)));
  return { prices, customers };
}

function chaosRequest(
  prefix: string,
  index: number,
  random: () => number,
  prices: Map<string, number>,
  customers: string[],
): ChaosRequest {
  const skus = [...prices.keys()];
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const lines = new Map<string, number>();
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    const sku = random() < 0.1 ? `${prefix}-C-HOT` : pick(skus.slice(0, -1));
    lines.set(sku, (lines.get(sku) ?? 0) + 1 + Math.floor(random() * 2));
  }
  const items = [...lines].map(([sku, quantity]) => ({ sku, quantity }));
  const total = items.reduce((sum, line) => sum + line.quantity * (prices.get(line.sku) as number), 0);
  const credit = random();
  // 10 % paid fully by store credit (no card steps), 25 % partly, the rest by card only.
  const storeCreditCents = credit < 0.1 ? total : credit < 0.35 ? Math.floor(total / 3) : 0;
  return {
    customerId: pick(customers),
    key: `${prefix}-chaos-${index}`,
    body: { items, currency: 'USD', paymentMethod: weighted(random, PAYMENT_MIX), storeCreditCents },
    duplicate: random() < DUPLICATE_SHARE,
  };
}

/** Orders and compensations not yet finished, across the whole database. */
async function inFlight(ctx: BenchContext) {
  const [row] = await ctx.sql<
    { pending: number; authorized: number; attention: number; retrying: number; unresolved: number }[]
  >`
    select
      (select count(*) from orders where status = 'PENDING')::int as pending,
      (select count(*) from orders where status = 'AUTHORIZED')::int as authorized,
      (select count(*) from orders where status = 'REQUIRES_ATTENTION')::int as attention,
      (select count(*) from failed_compensations where status in ('PENDING', 'RETRYING'))::int as retrying,
      (select count(*) from failed_compensations where status <> 'RESOLVED')::int as unresolved
  `;
  const counts = row ?? { pending: 0, authorized: 0, attention: 0, retrying: 0, unresolved: 0 };
  return {
    ...counts,
    /** Still moving on its own: orders in the saga, compensations the worker still retries. */
    total: counts.pending + counts.authorized + counts.retrying,
  };
}

async function failedCompensationIds(ctx: BenchContext): Promise<string[]> {
  const rows = await ctx.sql<{ compensation_id: string }[]>`
    select compensation_id from failed_compensations where status = 'FAILED'
  `;
  return rows.map((row) => row.compensation_id);
}

async function countFailed(ctx: BenchContext): Promise<number> {
  const [row] = await ctx.sql<{ count: number }[]>`
    select count(*)::int as count from failed_compensations where status = 'FAILED'
  `;
  return row?.count ?? 0;
}

async function outcomes(ctx: BenchContext, orderIds: string[]) {
  const statuses = await ctx.sql<{ status: string; reason: string | null; count: number }[]>`
    select status, cancellation_reason as reason, count(*)::int as count
    from orders
    where id = any (${orderIds}::uuid[])
    group by status, cancellation_reason
  `;
  const [compensations] = await ctx.sql<{ recorded: number; resolved: number }[]>`
    select count(*)::int as recorded, count(*) filter (where status = 'RESOLVED')::int as resolved
    from failed_compensations
    where order_id = any (${orderIds}::uuid[])
  `;
  const methods = await ctx.sql<{ method: string; outcome: string; count: number }[]>`
    select
      case when charge_cents = 0 then 'store credit only' else payment_method end as method,
      concat_ws(' ', status, cancellation_reason) as outcome,
      count(*)::int as count
    from orders
    where id = any (${orderIds}::uuid[])
    group by 1, 2
    order by 1, 2
  `;
  const byPaymentMethod: Record<string, Record<string, number>> = {};
  for (const row of methods) {
    byPaymentMethod[row.method] = { ...byPaymentMethod[row.method], [row.outcome]: row.count };
  }
  const orders: Record<string, number> = {};
  const cancellationReasons: Record<string, number> = {};
  for (const row of statuses) {
    orders[row.status] = (orders[row.status] ?? 0) + row.count;
    if (row.reason) cancellationReasons[row.reason] = (cancellationReasons[row.reason] ?? 0) + row.count;
  }
  return {
    orders,
    cancellationReasons,
    byPaymentMethod,
    compensations: { recorded: compensations?.recorded ?? 0, resolved: compensations?.resolved ?? 0 },
  };
}

async function queueUrl(sqs: SQSClient, arn: string): Promise<string> {
  const name = arn.split(':').at(-1) as string;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error(`no queue ${name}`);
  return QueueUrl;
}

/**
 * The compensation ids of every message in the DLQ, leaving them there: each received message is
 * made visible again at once, so the redrive that follows moves all of them.
 */
async function peekDlq(sqs: SQSClient, url: string): Promise<string[]> {
  const ids: string[] = [];
  const handles: string[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
      }),
    );
    if (!Messages?.length) break;
    for (const message of Messages) {
      handles.push(message.ReceiptHandle as string);
      try {
        ids.push(
          (JSON.parse(message.Body ?? '{}') as { compensationId?: string }).compensationId ??
            `?${message.MessageId}`,
        );
      } catch {
        ids.push(`?${message.MessageId}`);
      }
    }
  }
  for (let i = 0; i < handles.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: handles
          .slice(i, i + 10)
          .map((handle, n) => ({ Id: String(n), ReceiptHandle: handle, VisibilityTimeout: 0 })),
      }),
    );
  }
  return ids;
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([, a], [, b]) => b - a));
}

function weighted(random: () => number, choices: readonly [string, number][]): string {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let point = random() * total;
  for (const [choice, weight] of choices) {
    point -= weight;
    if (point < 0) return choice;
  }
  return choices.at(-1)?.[0] as string;
}

/** A small seeded PRNG (mulberry32): the same seed draws the same mix. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
