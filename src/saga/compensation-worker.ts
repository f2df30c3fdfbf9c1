import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { CompensationStore } from '../db/compensations.js';
import { describeError } from '../runtime/errors.js';
import { logger } from '../runtime/observability.js';
import { type CompensationMessage, parseCompensationMessage } from './compensation-message.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { PaymentSaga } from './steps.js';

export interface CompensationWorkerDependencies {
  readonly saga: PaymentSaga;
  readonly compensations: CompensationStore;
  readonly persistenceStore: BasePersistenceLayer;
  /** The queue's maxReceiveCount: the attempt that reaches it is the last before the DLQ. */
  readonly maxReceiveCount: number;
  /**
   * The compensation queue itself: a last attempt whose failure cannot be recorded (the database
   * is away) sends its compensation here again instead of letting SQS park it in the DLQ unrecorded.
   */
  readonly queue: CompensationQueue;
}

// A redrive from the DLQ can come up to its 14-day retention later; remember results that long.
const IDEMPOTENCY_EXPIRY_SECONDS = 15 * 24 * 60 * 60;
/** SQS's longest message delay. */
const MAX_DELAY_SECONDS = 900;

/**
 * The compensation worker: finishes compensations the saga could not. SQS batch with partial
 * failures: a failed record is retried by SQS until maxReceiveCount, then lands in the DLQ.
 * Idempotency is keyed on `compensationId`, never on the message id: a redriven message gets a new
 * message id but must not void or refund twice. Every attempt is recorded in failed_compensations.
 *
 * Copies of one compensation can arrive at once (the saga's message, a DLQ redrive, an operator's
 * retry). The first to claim the compensationId does the work. A copy that finds it in progress is
 * neither an attempt nor a failure: it is sent again, delayed until that claim expires, and lets
 * its own message go, so it spends none of the receives that lead to the DLQ (docs/adr/0018). If
 * the worker in progress dies, its claim expires with its invocation and the copy finishes the job,
 * whether or not the queue's visibility timeout outlasts the worker's.
 *
 * The records of a batch run in parallel, so each logs through a child logger with its own keys.
 */
export function createCompensationWorker(deps: CompensationWorkerDependencies) {
  const idempotencyConfig = new IdempotencyConfig({
    eventKeyJmesPath: 'compensationId',
    expiresAfterSeconds: IDEMPOTENCY_EXPIRY_SECONDS,
  });

  const finishCompensation = makeIdempotent(
    async (message: CompensationMessage) => {
      // Counted here, once the compensationId is claimed, so a duplicate copy is not an attempt.
      await deps.compensations.recordAttempt(message.compensationId);
      await deps.saga.compensate({
        orderId: message.orderId,
        correlationId: message.correlationId,
        steps: message.steps,
        reason: message.cancellationReason,
      });
      await deps.compensations.markResolved(message.compensationId);
      return { compensationId: message.compensationId, resolved: true };
    },
    { persistenceStore: deps.persistenceStore, config: idempotencyConfig },
  );

  async function processRecord(record: SQSRecord): Promise<void> {
    const message = parseCompensationMessage(record.body, record.messageId);
    // Not the shared logger's keys: the other records of the batch are running at the same time.
    const log = logger.createChild();
    log.appendKeys({
      correlationId: message.correlationId,
      orderId: message.orderId,
      compensationId: message.compensationId,
    });
    // Lambda's SQS event source always sends it.
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    const final = receiveCount >= deps.maxReceiveCount;

    try {
      await finishCompensation(message);
      log.info('compensation resolved', { receiveCount });
    } catch (error) {
      if (error instanceof IdempotencyAlreadyInProgressError) {
        // Another delivery holds the compensationId. Not a failure, and no reason to spend one of
        // this message's receives: send a fresh copy that arrives once that claim has expired
        // (then the work is done, or its worker died and this copy does it), and let this one go.
        const delaySeconds = await untilClaimExpires(message);
        await deps.queue.send(message, { delaySeconds });
        log.info('compensation in progress in another delivery; this copy comes back later', {
          receiveCount,
          delaySeconds,
        });
        return;
      }
      // What the provider holds now, so the audit row (and the DLQ's operator) sees what is left.
      const providerState = await deps.saga.paymentState(message.orderId).catch(() => null);
      const recorded = await deps.compensations
        .recordFailure(message.compensationId, { error: describeError(error), final, providerState })
        .then(
          () => true,
          (recordError: unknown) => {
            log.warn('could not record the failed compensation attempt', { error: recordError as Error });
            return false;
          },
        );
      if (final && !recorded) {
        // SQS would move this message to the DLQ while failed_compensations still says it is being
        // retried: a compensation nobody knows is stuck. Queue it again (a fresh receive count)
        // and let this copy go; the next attempts record their outcome once the database is back.
        await deps.queue.send(message);
        log.warn('the last attempt could not be recorded; the compensation is queued again', {
          receiveCount,
          error: error as Error,
        });
        return;
      }
      log.error(final ? 'compensation failed for the last time, moving to the DLQ' : 'compensation failed', {
        receiveCount,
        error: error as Error,
      });
      throw error;
    }
  }

  /**
   * Seconds until the claim on the message's compensationId expires: Powertools sets it to the
   * claiming invocation's deadline (`registerLambdaContext`). At least 1; at most SQS's 900.
   */
  async function untilClaimExpires(message: CompensationMessage): Promise<number> {
    const expiresAt = await deps.persistenceStore
      .getRecord(message)
      .then((claim) => claim.inProgressExpiryTimestamp)
      // Gone: the delivery in progress finished or failed meanwhile; the copy may come right back.
      .catch(() => undefined);
    const seconds = expiresAt === undefined ? 0 : Math.ceil((expiresAt - Date.now()) / 1000);
    return Math.min(MAX_DELAY_SECONDS, Math.max(1, seconds + 1));
  }

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    idempotencyConfig.registerLambdaContext(context);
    return processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  };
}
