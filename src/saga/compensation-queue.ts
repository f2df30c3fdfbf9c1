import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CompensationMessage } from './compensation-message.js';

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
