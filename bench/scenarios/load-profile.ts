import { answerCounts, type CheckoutExchange } from '../lib/api.js';
import type { BenchContext } from '../lib/context.js';
import { type CpuUse, startCpuMeter } from '../lib/cpu.js';
import { countInStatus, createRunSkus, lastConfirmationAt } from '../lib/database.js';
import { closedLoopFor, openLoop, type TimedResult, waitUntil } from '../lib/load.js';
import { type LatencySummary, round, summarize } from '../lib/stats.js';

/**
 * The load the remediation plans ask the service to carry (docs/PERFORMANCE.md, "Load profile"):
 * a staged ramp of concurrent clients, then a constant arrival rate. Every checkout is a fresh
 * customer key on a 1-line cart of one of many SKUs with plenty of stock, paid by a healthy card.
 */
export interface LoadPhase {
  /** `clients N` for a ramp stage (closed loop), `N/s offered` for the constant rate (open loop). */
  readonly label: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly accepted: number;
  readonly acceptedPerSecond: number;
  /** Answers other than 202, and requests with no answer at all, over all requests. */
  readonly errorRate: number;
  readonly statuses: Record<string, number>;
  readonly post: LatencySummary;
  readonly cpu?: CpuUse;
}

export interface LoadProfileResult {
  readonly skus: number;
  readonly customers: number;
  readonly ramp: LoadPhase[];
  readonly constantRate: LoadPhase & {
    readonly offeredPerSecond: number;
    /** The most requests outstanding at once: what the system queued. */
    readonly maxInFlight: number;
  };
  /** From the end of the constant-rate phase until its last accepted order was CONFIRMED. */
  readonly lastConfirmedAfterMs: number | null;
  /** Accepted orders of the constant-rate phase not CONFIRMED when the bench stopped waiting. */
  readonly unconfirmed: number;
}

/** An open loop never keeps more requests outstanding than this (the generator's own sockets). */
const MAX_IN_FLIGHT = 1000;
/** How long the bench waits for the constant-rate phase's orders to be CONFIRMED (a backlog drains). */
const CONFIRM_TIMEOUT_MS = 120_000;

export async function loadProfile(ctx: BenchContext): Promise<LoadProfileResult> {
  const {
    skus: skuCount,
    customers,
    rampClients,
    stageSeconds,
    ratePerSecond,
    rateSeconds,
  } = ctx.sizes.loadProfile;
  const skus = await createRunSkus(ctx, { tag: 'L', count: skuCount, priceCents: 990, onHand: 1_000_000 });

  let sent = 0;
  const checkout = (phase: string) => (): Promise<CheckoutExchange> => {
    const n = sent++;
    return ctx.client.checkout(`${ctx.prefix}-load-${n % customers}`, `${ctx.prefix}-load-${phase}-${n}`, {
      items: [{ sku: skus[n % skus.length] as string, quantity: 1 }],
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      storeCreditCents: 0,
    });
  };

  const ramp: LoadPhase[] = [];
  for (const clients of rampClients) {
    ctx.progress.step(`  ramp: ${clients} clients for ${stageSeconds} s`);
    const cpu = await startCpuMeter(ctx.target);
    const run = await closedLoopFor({
      durationMs: stageSeconds * 1000,
      concurrency: clients,
      task: checkout(`c${clients}`),
    });
    ramp.push(phaseOf(`${clients} clients`, run.elapsedMs, run.results, await cpu.stop()));
    logPhase(ctx, ramp.at(-1) as LoadPhase);
  }

  ctx.progress.step(`  constant rate: ${ratePerSecond} checkouts/s offered for ${rateSeconds} s`);
  const cpu = await startCpuMeter(ctx.target);
  const run = await openLoop({
    ratePerSecond,
    durationMs: rateSeconds * 1000,
    maxInFlight: MAX_IN_FLIGHT,
    task: checkout('rate'),
  });
  const endedAt = Date.now();
  const constant = {
    ...phaseOf(`${ratePerSecond}/s offered`, run.elapsedMs, run.results, await cpu.stop()),
    offeredPerSecond: ratePerSecond,
    maxInFlight: run.maxInFlightSeen,
  };
  logPhase(ctx, constant);

  const ids = run.results.flatMap(({ result }) => (result.orderId ? [result.orderId] : []));
  await waitUntil(async () => (await countInStatus(ctx.sql, ids, ['CONFIRMED'])) === ids.length, {
    timeoutMs: CONFIRM_TIMEOUT_MS,
  });
  const confirmed = await countInStatus(ctx.sql, ids, ['CONFIRMED']);
  const lastAt = await lastConfirmationAt(ctx.sql, ids);
  return {
    skus: skuCount,
    customers,
    ramp,
    constantRate: constant,
    lastConfirmedAfterMs: lastAt === undefined ? null : Math.max(0, round(lastAt - endedAt)),
    unconfirmed: ids.length - confirmed,
  };
}

function phaseOf(
  label: string,
  elapsedMs: number,
  results: readonly TimedResult<CheckoutExchange>[],
  cpu: CpuUse | undefined,
): LoadPhase {
  const statuses = answerCounts(results.map(({ result }) => result));
  const accepted = statuses['202'] ?? 0;
  return {
    label,
    durationMs: round(elapsedMs),
    requests: results.length,
    accepted,
    acceptedPerSecond: round(accepted / (elapsedMs / 1000), 1),
    errorRate: results.length ? round((results.length - accepted) / results.length, 4) : 0,
    statuses,
    post: summarize(results.map((r) => r.ms)),
    ...(cpu ? { cpu } : {}),
  };
}

function logPhase(ctx: BenchContext, phase: LoadPhase): void {
  ctx.progress.step(
    `  ${phase.label}: ${phase.acceptedPerSecond} accepted/s, p50 ${phase.post.p50} ms, ` +
      `p95 ${phase.post.p95} ms, p99 ${phase.post.p99} ms, errors ${round(phase.errorRate * 100, 2)} %`,
  );
}
