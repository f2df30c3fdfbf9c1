import * as z from '../runtime/schema.js';

/**
 * The compensation steps, in the order they run after the order is fenced: what the customer is
 * owed (stock, store credit) first, then the payment, then the cancel that waits for the money
 * (docs/adr/0018). The compensation queue carries the ones left; a message of an earlier release
 * that lists them in another order runs in this one.
 */
export const COMPENSATION_STEPS = [
  'RELEASE_RESERVATIONS',
  'REFUND_STORE_CREDIT',
  'REVERSE_PAYMENT',
  'CANCEL_ORDER',
] as const;
export type CompensationStep = (typeof COMPENSATION_STEPS)[number];

/**
 * The compensation queue's message, declared once. The saga's `QueueCompensation` state builds it
 * (`MessageBody` in statemachines/payment-saga.asl.json; test/saga/compensation-message.test.ts
 * runs that state and parses what it produces with this schema), the worker parses it, and every
 * other sender (an operator's retry, the sweeper's requeue) builds it with
 * {@link compensationMessageOf}.
 */
export const compensationMessage = z.object({
  compensationId: z.string().check(z.minLength(1), z.maxLength(200)),
  orderId: z.uuid(),
  steps: z.array(z.enum(COMPENSATION_STEPS)).check(z.minLength(1)),
  cancellationReason: z.string().check(z.regex(/^[A-Z_]{1,64}$/)),
  /**
   * The name of the error that made the compensation necessary or fail (`PaymentDeclinedError`,
   * `States.Timeout`, ...), never a message: the audit row records the details.
   */
  error: z.string().check(z.maxLength(1000)),
  correlationId: z.string().check(z.minLength(1), z.maxLength(200)),
});
export type CompensationMessage = z.infer<typeof compensationMessage>;

/** A message that is not a compensation: retrying will not help, it belongs in the DLQ. */
export class InvalidCompensationMessageError extends Error {
  override readonly name = 'InvalidCompensationMessageError';
}

/** The message in an SQS record's body; {@link InvalidCompensationMessageError} when it is none. */
export function parseCompensationMessage(body: string, messageId: string): CompensationMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new InvalidCompensationMessageError(`message ${messageId} is not JSON`, { cause: error });
  }
  const result = compensationMessage.safeParse(parsed);
  if (!result.success) {
    throw new InvalidCompensationMessageError(
      `message ${messageId} is not a compensation: ${z.prettifyError(result.error)}`,
    );
  }
  return result.data;
}

/** What an audited compensation records (a `failed_compensations` row, or its admin view). */
export interface AuditedCompensation {
  readonly compensationId: string;
  readonly orderId: string;
  readonly steps: readonly string[];
  readonly cancellationReason: string | null;
  /** `Name: message` of the last error. */
  readonly lastError: string | null;
  readonly correlationId: string | null;
}

/**
 * The message that queues an audited compensation again (an operator's retry, the sweeper's
 * requeue of an orphan): the same compensationId, so the worker's idempotency still holds. Rows
 * from before the reason was recorded fall back to PAYMENT_FAILED; `error` is the name of the last
 * error, as in every compensation message.
 */
export function compensationMessageOf(compensation: AuditedCompensation): CompensationMessage {
  return {
    compensationId: compensation.compensationId,
    orderId: compensation.orderId,
    steps: compensation.steps as CompensationMessage['steps'],
    cancellationReason: compensation.cancellationReason ?? 'PAYMENT_FAILED',
    error: (compensation.lastError?.split(':')[0] ?? 'Unknown').slice(0, 1000),
    correlationId: compensation.correlationId ?? compensation.compensationId,
  };
}
