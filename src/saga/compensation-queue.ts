import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FailedCompensation } from '../db/compensations.js';
import type { CompensationMessage } from './compensation-worker.js';

/** Hands a compensation to the compensation worker (and, if it keeps failing, to its DLQ). */
export interface CompensationQueue {
  /** `delaySeconds` (0 to 900) keeps the message from the worker that long. @default 0 */
  send(message: CompensationMessage, options?: { readonly delaySeconds?: number }): Promise<void>;
}

export class SqsCompensationQueue implements CompensationQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: CompensationMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}),
        MessageAttributes: { correlationId: { DataType: 'String', StringValue: message.correlationId } },
      }),
    );
  }
}

/**
 * The message that queues an audited compensation again (an operator's retry, the sweeper's
 * requeue of an orphan, or the local stack after a restart): the same compensationId, so the
 * worker's idempotency still holds. Rows from before the reason was recorded fall back to
 * PAYMENT_FAILED. `error` is the name of the last error (the audit row keeps `Name: message`),
 * as in every compensation message: see {@link compensationMessage}.
 */
export function compensationMessageOf(
  compensation: Pick<
    FailedCompensation,
    'compensationId' | 'orderId' | 'steps' | 'cancellationReason' | 'lastError' | 'correlationId'
  >,
): CompensationMessage {
  return {
    compensationId: compensation.compensationId,
    orderId: compensation.orderId,
    steps: compensation.steps as CompensationMessage['steps'],
    cancellationReason: compensation.cancellationReason ?? 'PAYMENT_FAILED',
    error: (compensation.lastError?.split(':')[0] ?? 'Unknown').slice(0, 1000),
    correlationId: compensation.correlationId ?? compensation.compensationId,
  };
}
