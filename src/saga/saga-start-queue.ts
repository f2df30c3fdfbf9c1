import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from '../runtime/schema.js';
import type { SagaInput, SagaStartBuffer } from './saga-starter.js';

/** A message of the saga-start queue: the execution's input, which the starter starts as is. */
export const sagaStartMessage = z.object({
  orderId: z.uuid(),
  correlationId: z.string().check(z.minLength(1), z.maxLength(200)),
  chargeCents: z.int().check(z.nonnegative()),
});

/** Hands a received message back to the queue, visible again after `seconds`. */
export interface MessageVisibility {
  retryAfter(receiptHandle: string, seconds: number): Promise<void>;
}

/**
 * The saga-start queue over SQS (docs/adr/0019): checkout sends the starts it could not make, the
 * saga starter hands back those it could not make yet, visible again within seconds rather than
 * after the queue's visibility timeout.
 */
export class SqsSagaStartQueue implements SagaStartBuffer, MessageVisibility {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(input: SagaInput): Promise<void> {
    const message: z.infer<typeof sagaStartMessage> = {
      orderId: input.orderId,
      correlationId: input.correlationId,
      chargeCents: input.chargeCents,
    };
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: { correlationId: { DataType: 'String', StringValue: input.correlationId } },
      }),
    );
  }

  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
