import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CompensationMessage } from './compensation-worker.js';

/** Hands a compensation to the compensation worker (and, if it keeps failing, to its DLQ). */
export interface CompensationQueue {
  send(message: CompensationMessage): Promise<void>;
}

export class SqsCompensationQueue implements CompensationQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: CompensationMessage): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: { correlationId: { DataType: 'String', StringValue: message.correlationId } },
      }),
    );
  }
}
