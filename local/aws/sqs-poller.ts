import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { createLambdaContext } from './lambda-context.js';
import { getQueueArn } from './sqs.js';

/**
 * A Lambda handler for an SQS event source. With `ReportBatchItemFailures` it returns
 * `{ batchItemFailures: [{ itemIdentifier: messageId }] }`; the result is typed `unknown` because,
 * like Lambda, the poller validates whatever comes back rather than trusting a type.
 */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<unknown>;

export interface SqsPollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsBatchHandler;
  /** Messages per invocation, 1 to 10 (one ReceiveMessage call). @default 10 */
  readonly batchSize?: number;
  /**
   * Batches handled at once, as the mapping's `ScalingConfig.MaximumConcurrency`: each round
   * receives this many batches and hands them to concurrent invocations. @default 1
   */
  readonly maximumConcurrency?: number;
  /** Long-poll duration; the local server waits all of it unless the batch fills. @default 1 */
  readonly waitTimeSeconds?: number;
  /**
   * Visibility timeout applied to each receive; must exceed `waitTimeSeconds`, or the local server
   * can hand out the same message twice in one long poll. A failed message reappears after it.
   * @default - the queue's own VisibilityTimeout
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Honour `batchItemFailures` in the handler's response, as the mapping's `FunctionResponseTypes`. @default true */
  readonly reportBatchItemFailures?: boolean;
  /** Name seen in `context.functionName`. @default - `<queue name>-consumer` */
  readonly functionName?: string;
  /** The function timeout behind `context.getRemainingTimeInMillis()`. @default 30000 */
  readonly functionTimeoutMs?: number;
  /** Told about handler failures and failed SQS calls; the poller itself carries on. @default console.error */
  readonly onError?: (error: unknown) => void;
}

export interface SqsPoller {
  /** Stops polling: the in-flight receive and batch finish first, then it resolves. */
  stop(): Promise<void>;
}

/** Raised by the poller (to `onError`) when a batch is not fully acknowledged. */
export class SqsBatchError extends Error {
  override readonly name = 'SqsBatchError';
}

/**
 * Stands in for a Lambda SQS event-source mapping: long-polls the queue, hands each batch to the
 * handler as a real `SQSEvent`, then deletes what succeeded. A handler that throws, or a response
 * that names an unknown or empty message id, fails the whole batch: nothing is deleted and every
 * message comes back after its visibility timeout, counting towards `maxReceiveCount`.
 *
 * Like Lambda with `MaximumConcurrency`, up to that many batches run at once. Unlike Lambda, the
 * poller works in rounds: it receives again only once every batch of the round is done, so a message
 * still being handled is never handed out twice however short the visibility timeout, and it does
 * not cut a handler off at the function timeout. Stop pollers before closing the server.
 */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const {
    client,
    queueUrl,
    handler,
    batchSize = 10,
    maximumConcurrency = 1,
    waitTimeSeconds = 1,
    visibilityTimeoutSeconds,
    reportBatchItemFailures = true,
    functionTimeoutMs = 30_000,
    onError = (error: unknown) => console.error(`[sqs-poller ${queueUrl}]`, error),
  } = options;
  const functionName = options.functionName ?? `${queueNameOf(queueUrl)}-consumer`;

  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new RangeError(`batchSize must be an integer from 1 to 10, got ${batchSize}`);
  }
  if (!Number.isInteger(maximumConcurrency) || maximumConcurrency < 1) {
    throw new RangeError(`maximumConcurrency must be a positive integer, got ${maximumConcurrency}`);
  }
  if (visibilityTimeoutSeconds !== undefined && visibilityTimeoutSeconds <= waitTimeSeconds) {
    throw new RangeError(
      `visibilityTimeoutSeconds (${visibilityTimeoutSeconds}) must exceed waitTimeSeconds (${waitTimeSeconds})`,
    );
  }

  const stopping = new AbortController();

  /** One round: up to `maximumConcurrency` batches, received together and handled at once. */
  async function pollRound(queueArn: string): Promise<void> {
    const outcomes = await Promise.allSettled(
      Array.from({ length: maximumConcurrency }, () => pollOnce(queueArn)),
    );
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
  }

  async function pollOnce(queueArn: string): Promise<void> {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: waitTimeSeconds,
        VisibilityTimeout: visibilityTimeoutSeconds,
        // local-aws-sqs reads only the deprecated `AttributeNames`; AWS accepts both.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      // Not cut short by stop(): an aborted long poll can have been handed messages the server
      // then counts as received, a receive no attempt made that pushes a message toward its DLQ.
      // Stopping waits for the poll (at most waitTimeSeconds) and handles what it brought.
    );
    if (Messages.length === 0) return;

    const records = Messages.map((message) => toSqsRecord(message, queueArn));
    const context = createLambdaContext({ functionName, timeoutMs: functionTimeoutMs });
    let succeeded: SQSRecord[];
    try {
      const response = await handler({ Records: records }, context);
      succeeded = reportBatchItemFailures ? successfulRecords(records, response) : records;
    } catch (error) {
      onError(error);
      return;
    }
    await deleteRecords(succeeded);
  }

  async function deleteRecords(records: SQSRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { Failed = [] } = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: records.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }),
    );
    if (Failed.length > 0) {
      onError(new SqsBatchError(`could not delete ${Failed.length} message(s): ${JSON.stringify(Failed)}`));
    }
  }

  const loop = (async () => {
    let queueArn: string | undefined;
    while (!stopping.signal.aborted) {
      try {
        queueArn ??= await getQueueArn(client, queueUrl);
        await pollRound(queueArn);
      } catch (error) {
        if (stopping.signal.aborted) break;
        onError(error);
        // A failing endpoint would otherwise be hammered in a tight loop.
        await sleep(1_000, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  return {
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
}

/**
 * Applies Lambda's partial-batch rules: no response, `{}` or an empty list means everything
 * succeeded; a list of known message ids fails just those; anything malformed fails the batch.
 */
function successfulRecords(records: SQSRecord[], response: unknown): SQSRecord[] {
  if (response === undefined || response === null) return records;
  if (typeof response !== 'object') {
    throw new SqsBatchError(`handler returned ${typeof response}, not a batch response: whole batch failed`);
  }
  const failures: unknown = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return records;
  if (!Array.isArray(failures)) {
    throw new SqsBatchError('batchItemFailures is not an array: whole batch failed');
  }

  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id: unknown = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) {
      throw new SqsBatchError(
        `batchItemFailures names ${JSON.stringify(id)}, not in the batch: whole batch failed`,
      );
    }
    failed.add(id);
  }
  return records.filter((record) => !failed.has(record.messageId));
}

function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? '',
    SenderId: system.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? '',
  };
  // Lambda passes these only when SQS has them (FIFO queues, X-Ray, DLQ redrive).
  for (const name of [
    'AWSTraceHeader',
    'SequenceNumber',
    'MessageGroupId',
    'MessageDeduplicationId',
    'DeadLetterQueueSourceArn',
  ] as const) {
    const value = system[name];
    if (value !== undefined) attributes[name] = value;
  }

  return {
    messageId: requireField(message.MessageId, 'MessageId'),
    receiptHandle: requireField(message.ReceiptHandle, 'ReceiptHandle'),
    body: message.Body ?? '',
    attributes,
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? '',
  };
}

/** SQS's PascalCase attribute values become Lambda's camelCase ones, binaries in base64. */
function toLambdaMessageAttributes(
  attributes: Record<string, MessageAttributeValue> = {},
): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    result[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
    };
  }
  return result;
}

function queueNameOf(queueUrl: string): string {
  return queueUrl.split('/').filter(Boolean).at(-1) ?? 'queue';
}

function requireField(value: string | undefined, name: string): string {
  if (value === undefined) throw new SqsBatchError(`SQS response lacks ${name}`);
  return value;
}
