import { answerCounts, type CheckoutExchange } from '../lib/api.js';
import type { BenchContext } from '../lib/context.js';
import { type CpuUse, startCpuMeter } from '../lib/cpu.js';
import { confirmationLatencies, countInStatus, createRunSkus } from '../lib/database.js';
import { closedLoop, waitUntil } from '../lib/load.js';
import { distribution, type LatencySummary, round, summarize } from '../lib/stats.js';

/** A measured burst of `POST /v1/checkout` and what became of the orders it placed. */
export interface CheckoutRun {
  readonly requests: number;
  readonly concurrency: number;
  readonly elapsedMs: number;
  /** Answered requests (any status) per second: checkout transactions per second. */
  readonly requestsPerSecond: number;
  readonly acceptedPerSecond: number;
  readonly statuses: Record<string, number>;
  readonly post: LatencySummary;
  readonly postDistribution: [number, number][];
  /** From sending the POST to the order's CONFIRMED event. */
  readonly postToConfirmed: LatencySummary;
  readonly postToConfirmedDistribution: [number, number][];
  /** Accepted orders that had not reached CONFIRMED when the bench stopped waiting. */
  readonly unconfirmed: number;
  readonly cpu?: CpuUse;
}

export interface HotSkuResult extends CheckoutRun {
  readonly sku: string;
  readonly stock: number;
  readonly accepted: number;
  readonly outOfStock: number;
  readonly acceptedEqualsStock: boolean;
  /** Inventory after every accepted order was confirmed: on hand should be 0, reserved 0. */
  readonly finalInventory: { readonly onHand: number; readonly reserved: number };
}

export interface SpreadResult {
  readonly skus: number;
  readonly runs: CheckoutRun[];
}

const cart = (sku: string) => ({
  items: [{ sku, quantity: 1 }],
  currency: 'USD' as const,
  paymentMethod: 'pm_card_visa',
  storeCreditCents: 0,
});

/**
 * Scenario 1: `requests` checkouts of one SKU all at once, with less stock than requests. Exactly
 * `stock` may be accepted; the rest must be refused OUT_OF_STOCK.
 */
export async function hotSku(ctx: BenchContext): Promise<HotSkuResult> {
  const { requests, stock } = ctx.sizes.hotSku;
  const sku = `${ctx.prefix}-HOT`;
  await ctx.client.putProduct(sku, { name: 'Bench hot SKU', priceCents: 1500, onHand: stock });
  ctx.initialStock[sku] = stock;

  const run = await measureCheckouts(ctx, {
    label: `hot SKU, ${requests} at once`,
    requests,
    concurrency: requests,
    request: (i) => ctx.client.checkout(`${ctx.prefix}-hot-${i}`, `${ctx.prefix}-hot-${i}`, cart(sku)),
  });
  const [inventory] = await ctx.sql<{ on_hand: number; reserved: number }[]>`
    select on_hand, reserved from inventory where sku = ${sku}
  `;
  const accepted = run.statuses['202'] ?? 0;
  return {
    sku,
    stock,
    accepted,
    acceptedEqualsStock: accepted === stock,
    finalInventory: { onHand: inventory?.on_hand ?? -1, reserved: inventory?.reserved ?? -1 },
    ...run,
  };
}

/** Scenario 2: 1-line checkouts over many SKUs with plenty of stock, at each concurrency. */
export async function spreadLoad(ctx: BenchContext): Promise<SpreadResult> {
  const { skus: count, runs: plan } = ctx.sizes.spread;
  const skus = await createRunSkus(ctx, { tag: 'S', count, priceCents: 990, onHand: 100_000 });
  const pick = () => skus[Math.floor(Math.random() * skus.length)] as string;

  const runs: CheckoutRun[] = [];
  for (const { concurrency, requests } of plan) {
    const run = await measureCheckouts(ctx, {
      label: `spread over ${count} SKUs, concurrency ${concurrency}`,
      requests,
      concurrency,
      request: (i) =>
        ctx.client.checkout(
          `${ctx.prefix}-spread-${i % 500}`,
          `${ctx.prefix}-spread-c${concurrency}-${i}`,
          cart(pick()),
        ),
    });
    const { outOfStock: _ignored, ...rest } = run;
    runs.push(rest);
  }
  return { skus: count, runs };
}

/** Checkouts of the warm-up, at concurrency 8: enough to start every container the measured phases use. */
export const WARM_UP_CHECKOUTS = 60;

/**
 * A few unmeasured checkouts first: the stack's handlers create their clients and pools on the
 * first invocations, and V8 compiles the hot paths; neither belongs in the measured latencies.
 */
export async function warmUp(ctx: BenchContext): Promise<void> {
  const sku = `${ctx.prefix}-WARMUP`;
  const onHand = 1000;
  await ctx.client.putProduct(sku, { name: 'Bench warm-up', priceCents: 100, onHand });
  ctx.initialStock[sku] = onHand;
  const run = await closedLoop({
    count: WARM_UP_CHECKOUTS,
    concurrency: 8,
    task: (i) => ctx.client.checkout(`${ctx.prefix}-warmup`, `${ctx.prefix}-warmup-${i}`, cart(sku)),
  });
  const ids = run.results.flatMap((r) => (r.orderId ? [r.orderId] : []));
  await waitUntil(async () => (await countInStatus(ctx.sql, ids, ['CONFIRMED'])) === ids.length, {
    timeoutMs: 30_000,
  });
}

async function measureCheckouts(
  ctx: BenchContext,
  options: {
    label: string;
    requests: number;
    concurrency: number;
    request: (index: number) => Promise<CheckoutExchange>;
  },
): Promise<CheckoutRun & { outOfStock: number }> {
  ctx.progress.step(`  ${options.label}: ${options.requests} checkouts`);
  const cpu = await startCpuMeter(ctx.target);
  const run = await closedLoop({
    count: options.requests,
    concurrency: options.concurrency,
    task: options.request,
    onProgress: (done, total) => ctx.progress.tick('answered', done, total),
  });
  const cpuUse = await cpu.stop();

  const statuses = answerCounts(run.results);
  const accepted = run.results.filter((e) => e.orderId);
  const ids = accepted.map((e) => e.orderId as string);
  await waitUntil(async () => (await countInStatus(ctx.sql, ids, ['CONFIRMED'])) === ids.length, {
    timeoutMs: 60_000,
  });
  const confirmed = await confirmationLatencies(ctx.sql, accepted);
  const latencies = run.results.map((e) => e.ms);
  const seconds = run.elapsedMs / 1000;
  const result = {
    requests: options.requests,
    concurrency: options.concurrency,
    elapsedMs: round(run.elapsedMs),
    requestsPerSecond: round(options.requests / seconds, 1),
    acceptedPerSecond: round(accepted.length / seconds, 1),
    statuses,
    post: summarize(latencies),
    postDistribution: distribution(latencies),
    postToConfirmed: summarize(confirmed),
    postToConfirmedDistribution: distribution(confirmed),
    unconfirmed: ids.length - confirmed.length,
    outOfStock: run.results.filter((e) => e.code === 'OUT_OF_STOCK').length,
    ...(cpuUse ? { cpu: cpuUse } : {}),
  };
  ctx.progress.step(
    `  ${result.requestsPerSecond} checkouts/s, POST p50 ${result.post.p50} ms, p99 ${result.post.p99} ms, ` +
      `to CONFIRMED p99 ${result.postToConfirmed.p99} ms`,
  );
  return result;
}
