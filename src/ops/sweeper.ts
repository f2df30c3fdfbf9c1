import { DatabaseUnavailableError } from '../db/errors.js';
import type { OrderStore } from '../db/orders.js';
import type { RecoveryStore, StuckOrder } from '../db/recovery.js';
import { IllegalTransitionError } from '../domain/errors.js';
import { logger } from '../runtime/observability.js';
import { compensationMessageOf } from '../saga/compensation-message.js';
import type { CompensationQueue } from '../saga/compensation-queue.js';
import { type SagaInspector, SagaStartError, type SagaStarter } from '../saga/saga-starter.js';
import { COMPENSATION_STEPS, type CompensationStep, type PaymentSaga } from '../saga/steps.js';

export interface SweeperDependencies {
  /** The sweeper's claims (`src/db/recovery.ts`). */
  readonly recovery: RecoveryStore;
  readonly orders: OrderStore;
  readonly saga: PaymentSaga;
  readonly starter: SagaStarter;
  readonly inspector: SagaInspector;
  readonly compensationQueue: CompensationQueue;
}

export interface SweepOptions {
  /** An order untouched for this long is looked at. @default 300 */
  readonly stuckAfterSeconds?: number;
  /** @default 25 */
  readonly batchSize?: number;
  /** How long a claimed order is left to this sweeper before another may take it. @default 120 */
  readonly leaseSeconds?: number;
}

export interface SweepReport {
  readonly claimed: number;
  readonly started: number;
  /**
   * Orders whose saga start failed (throttled, timed out): left for the next run, whose claim finds
   * them again once this run's lease has run out. One refused start never ends the sweep.
   */
  readonly startDeferred: number;
  readonly compensated: number;
  readonly stillRunning: number;
  readonly requiresAttention: number;
  readonly skipped: number;
  /** Failed compensations that never reached the worker and were queued again. */
  readonly requeuedCompensations: number;
}

/**
 * Crash recovery (docs/architecture.md, "How a checkout flows"): finds orders stuck in PENDING or AUTHORIZED whose saga is not
 * running and brings them to a terminal state.
 *
 * - no execution at all (the API committed the order but neither started its saga nor could queue
 *   the start, a saga-start message that ended in its DLQ, or an execution that was lost): start
 *   it — unless the stock reservation has expired, then compensate. A start that is merely
 *   queued is never compensated early: checkout answered only minutes ago and the saga starter
 *   holds the order's lease while it starts it (docs/adr/0019); and starting an order the starter
 *   also starts is harmless, the execution being named by the order id;
 * - an execution that ended without finishing the order (failed, timed out, aborted): compensate
 *   in place, as the saga does: fence the order, release stock, refund store credit, void or
 *   refund, cancel;
 * - a compensation that fails here goes where the saga's would: REQUIRES_ATTENTION and the
 *   compensation queue, with the steps still to do.
 *
 * Safe alongside live sagas (a running execution is left alone, every step is idempotent and a
 * confirmed order is never compensated) and alongside other sweepers (orders are claimed with
 * a lease under FOR UPDATE SKIP LOCKED, so two sweepers never take the same order).
 */
export async function sweepStuckOrders(
  deps: SweeperDependencies,
  options: SweepOptions = {},
): Promise<SweepReport> {
  const stuckAfterSeconds = options.stuckAfterSeconds ?? 300;
  const limit = options.batchSize ?? 25;
  const claimed = await deps.recovery.claimStuckOrders({
    stuckAfterSeconds,
    limit,
    leaseSeconds: options.leaseSeconds ?? 120,
  });

  const counts = {
    started: 0,
    startDeferred: 0,
    compensated: 0,
    stillRunning: 0,
    requiresAttention: 0,
    skipped: 0,
  };
  for (const order of claimed) {
    const outcome = await recover(deps, order);
    counts[outcome] += 1;
  }
  const requeuedCompensations = await requeueOrphanedCompensations(deps, stuckAfterSeconds, limit);
  const report = { claimed: claimed.length, ...counts, requeuedCompensations };
  if (claimed.length > 0 || requeuedCompensations > 0) logger.info('sweep finished', { ...report });
  return report;
}

async function recover(
  deps: SweeperDependencies,
  order: StuckOrder,
): Promise<keyof Omit<SweepReport, 'claimed' | 'requeuedCompensations'>> {
  const correlationId = order.correlationId ?? `sweeper:${order.id}`;
  const state = await deps.inspector.executionState(order.id);
  if (state === 'RUNNING') return 'stillRunning';

  if (state === 'NOT_FOUND' && !order.reservationExpired) {
    try {
      await deps.starter.start({ orderId: order.id, correlationId, chargeCents: order.chargeCents });
    } catch (error) {
      if (!(error instanceof SagaStartError)) throw error;
      logger.warn('could not start the saga of a stuck order; the next sweep tries again', {
        orderId: order.id,
        correlationId,
        error,
      });
      return 'startDeferred';
    }
    logger.info('started the saga of a stuck order', { orderId: order.id, correlationId });
    return 'started';
  }

  const reason = order.reservationExpired ? 'RESERVATION_EXPIRED' : 'SAGA_INTERRUPTED';
  const done = new Set<CompensationStep>();
  try {
    await deps.saga.compensate(
      { orderId: order.id, correlationId, steps: COMPENSATION_STEPS, reason },
      (step) => done.add(step),
    );
    logger.info('compensated a stuck order', {
      orderId: order.id,
      correlationId,
      executionState: state,
      reason,
    });
    return 'compensated';
  } catch (error) {
    // The order moved on while we looked (e.g. a late saga confirmed it): nothing to recover.
    if (error instanceof IllegalTransitionError) return 'skipped';
    // The database is away: not a failed compensation. The lease runs out and the next sweep
    // takes the order again; parking it for operators would be wrong (and would fail as well).
    if (error instanceof DatabaseUnavailableError) throw error;
    const message = {
      compensationId: `${order.id}:compensation`,
      orderId: order.id,
      // Stock and credit given back before the payment reversal failed stay given back.
      steps: COMPENSATION_STEPS.filter((step) => !done.has(step)),
      cancellationReason: reason,
      error: error instanceof Error ? error.name : 'Error',
      correlationId,
    };
    await deps.orders.markRequiresAttention(message);
    await deps.compensationQueue.send(message);
    logger.error('compensation of a stuck order failed; queued for the compensation worker', {
      orderId: order.id,
      correlationId,
      error: error as Error,
    });
    return 'requiresAttention';
  }
}

/**
 * A failed compensation the worker never attempted (still PENDING long after it was recorded) has
 * no message on the queue: the saga's QueueCompensation state failed after its retries and went on
 * to MarkRequiresAttention anyway. Send it again, so nothing waits on a message that does not exist.
 * Claimed by pushing `updated_at` forward under SKIP LOCKED, so concurrent sweepers send it once;
 * a duplicate would be harmless anyway (the worker is idempotent on compensationId).
 */
async function requeueOrphanedCompensations(
  deps: SweeperDependencies,
  stuckAfterSeconds: number,
  limit: number,
): Promise<number> {
  const orphans = await deps.recovery.claimOrphanedCompensations({ stuckAfterSeconds, limit });
  for (const orphan of orphans) {
    await deps.compensationQueue.send(compensationMessageOf(orphan));
    logger.warn('queued a failed compensation again: its message never reached the worker', {
      orderId: orphan.orderId,
      compensationId: orphan.compensationId,
    });
  }
  return orphans.length;
}
