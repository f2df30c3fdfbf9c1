import { setTimeout as wait } from 'node:timers/promises';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { SAGA_STARTER_STOP_MARGIN_SECONDS } from '../config/budget.js';
import type { RecoveryStore } from '../db/recovery.js';
import { logger, useCorrelationId } from '../runtime/observability.js';
import * as z from '../runtime/schema.js';
import { type MessageVisibility, sagaStartMessage } from './saga-start-queue.js';
import type { SagaInput, SagaStarter } from './saga-starter.js';

export interface SagaStartWorkerDependencies {
  /** One short attempt at StartExecution per call (the SDK's own retries off). */
  readonly starter: SagaStarter;
  /** The start lease on the order, shared with the sweeper (`src/db/recovery.ts`). */
  readonly claims: Pick<RecoveryStore, 'claimStart' | 'releaseStart'>;
  /** Hands a message back to the queue sooner than its visibility timeout would. */
  readonly visibility: MessageVisibility;
  /**
   * Most StartExecution calls per second this container makes. The event source mapping's
   * maximum concurrency times this is the buffer's share of the account's StartExecution quota.
   */
  readonly startsPerSecond: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** Waits that long: the pace and the backoff. @default node:timers/promises' setTimeout */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Time kept back from the invocation's end: enough to hand the rest of the batch back and answer.
 * Also the margin by which a start lease outlives the invocation that took it.
 */
const STOP_MARGIN_MS = SAGA_STARTER_STOP_MARGIN_SECONDS * 1000;
/** Full-jitter backoff between attempts at one start: up to 100 ms, doubling, at most 2 s. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 2_000;
/** A message handed back is visible again after 1 to 5 s (jittered): seconds, never a minute. */
const HAND_BACK_MIN_SECONDS = 1;
const HAND_BACK_MAX_SECONDS = 5;

type Attempt = 'DONE' | 'RETRY';

/**
 * The saga starter (docs/adr/0019): drains the saga-start queue, where checkout leaves the saga
 * starts it could not make (a throttle, a timeout). Each message is started at most
 * `startsPerSecond` per container, and retried with full-jitter backoff while the invocation has
 * time; what is left is handed back to the queue to be seen again within seconds, and reported as
 * a batch item failure. After the queue's `maxReceiveCount` receives a message goes to the DLQ
 * (and its alarm); the sweeper still starts that order's saga.
 *
 * What makes it safe to start late, or twice:
 * - The execution is named by the order id: a second start starts nothing (AWS answers a start of
 *   a running execution with the same input as a success, and ExecutionAlreadyExists otherwise).
 * - Before starting, the order is leased (`claimStart`), and only a PENDING order is: an order the
 *   saga has moved on, or the sweeper has cancelled, is not started again, and while the lease is
 *   held the sweeper cannot compensate the order under the start's feet. A lease held by the
 *   sweeper or another starter means someone else is acting on the order: retried later.
 * - A message is deleted only after its start succeeded (or was found not needed), so a starter
 *   that dies before the delete leaves it to be received again, and that receive finds the
 *   execution already there.
 */
export function createSagaStartWorker(deps: SagaStartWorkerDependencies) {
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? wait;
  if (!(deps.startsPerSecond > 0)) {
    throw new RangeError(`startsPerSecond must be positive, got ${deps.startsPerSecond}`);
  }
  const interval = 1000 / deps.startsPerSecond;
  // The container's pace: the earliest moment its next StartExecution may be sent.
  let nextStartAt = 0;

  async function pace(): Promise<void> {
    const now = Date.now();
    const due = nextStartAt - now;
    nextStartAt = Math.max(now, nextStartAt) + interval;
    if (due > 0) await sleep(due);
  }

  /**
   * Leases the order for the rest of this invocation: the lease, or DONE when there is nothing to
   * start, or RETRY when someone else (the sweeper, another starter) holds it.
   */
  async function claim(input: SagaInput, deadline: number): Promise<{ leaseUntil: string } | Attempt> {
    const leaseSeconds = Math.ceil((deadline - Date.now() + 2 * STOP_MARGIN_MS) / 1000);
    let claimed: Awaited<ReturnType<typeof deps.claims.claimStart>>;
    try {
      claimed = await deps.claims.claimStart(input.orderId, leaseSeconds);
    } catch (error) {
      logger.warn('could not lease the order for its saga start', { error: error as Error });
      return 'RETRY';
    }
    switch (claimed.outcome) {
      case 'CLAIMED':
        return { leaseUntil: claimed.leaseUntil };
      case 'NOT_FOUND':
        logger.error('a saga start names an order that does not exist; dropped');
        return 'DONE';
      case 'NOT_PENDING':
        // Its saga took it over, or the sweeper settled it: starting it now could only do harm.
        logger.info('the order is no longer PENDING; its saga start is not needed', {
          status: claimed.status,
        });
        return 'DONE';
      case 'LEASED':
        return 'RETRY';
    }
  }

  /** One StartExecution, paced. */
  async function start(input: SagaInput): Promise<Attempt> {
    try {
      await pace();
      const { alreadyStarted } = await deps.starter.start(input);
      logger.info(alreadyStarted ? 'the saga was already started' : 'started a buffered saga');
      return 'DONE';
    } catch (error) {
      logger.warn('a buffered saga start failed; retrying', { error: error as Error });
      return 'RETRY';
    }
  }

  /**
   * Starts one order's saga before `deadline`: leases the order (once it can), then starts it,
   * retrying either step with full-jitter backoff. The lease is given back at the end, whatever
   * happened, so the next attempt (this message handed back, or the sweeper) is not kept waiting.
   */
  async function startBefore(input: SagaInput, deadline: number): Promise<Attempt> {
    let lease: { leaseUntil: string } | undefined;
    try {
      for (let tries = 0; ; tries += 1) {
        if (!lease) {
          const claimed = await claim(input, deadline);
          if (claimed === 'DONE') return 'DONE';
          if (claimed !== 'RETRY') lease = claimed;
        }
        if (lease && (await start(input)) === 'DONE') return 'DONE';
        const backoff = random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** tries);
        if (Date.now() + backoff >= deadline) return 'RETRY';
        await sleep(backoff);
      }
    } finally {
      if (lease) {
        // Best effort: a lease not given back runs out on its own, shortly after this invocation.
        await deps.claims.releaseStart(input.orderId, lease.leaseUntil).catch((error: unknown) => {
          logger.warn('could not give back the start lease', { error: error as Error });
        });
      }
    }
  }

  async function handBack(records: readonly SQSRecord[]): Promise<void> {
    for (const record of records) {
      const span = HAND_BACK_MAX_SECONDS - HAND_BACK_MIN_SECONDS + 1;
      const seconds = HAND_BACK_MIN_SECONDS + Math.floor(random() * span);
      // If this fails too, the message comes back after the queue's own visibility timeout.
      await deps.visibility.retryAfter(record.receiptHandle, seconds).catch((error: unknown) => {
        logger.warn('could not hand a saga start back early', { error: error as Error });
      });
    }
  }

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const deadline = Date.now() + context.getRemainingTimeInMillis() - STOP_MARGIN_MS;
    const failed: SQSRecord[] = [];
    const handedBack: SQSRecord[] = [];
    for (const record of event.Records) {
      logger.resetKeys();
      const input = parseMessage(record);
      if (!input) {
        // Not a saga start: retrying cannot help; after maxReceiveCount it lands in the DLQ.
        failed.push(record);
        continue;
      }
      useCorrelationId(input.correlationId);
      logger.appendKeys({ orderId: input.orderId });
      if (handedBack.length > 0 || (await startBefore(input, deadline)) === 'RETRY') {
        handedBack.push(record);
      }
    }
    logger.resetKeys();
    await handBack(handedBack);
    return {
      batchItemFailures: [...failed, ...handedBack].map((record) => ({ itemIdentifier: record.messageId })),
    };
  };
}

function parseMessage(record: SQSRecord): SagaInput | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    logger.error('a saga-start message is not JSON', { messageId: record.messageId });
    return undefined;
  }
  const parsed = sagaStartMessage.safeParse(body);
  if (!parsed.success) {
    logger.error('a saga-start message is not a saga start', {
      messageId: record.messageId,
      issues: z.prettifyError(parsed.error),
    });
    return undefined;
  }
  return parsed.data;
}
