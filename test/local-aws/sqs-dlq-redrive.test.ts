import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  createLocalSqsClient,
  createQueueWithDlq,
  type LocalSqs,
  redriveDlq,
  startLocalSqs,
} from '../../local/aws/sqs.js';
import { type SqsPoller, startSqsPoller } from '../../local/aws/sqs-poller.js';

// Short enough to keep the suite quick, longer than the 1 s long poll (see startSqsPoller).
const VISIBILITY_TIMEOUT_SECONDS = 2;

describe('local SQS with a DLQ, consumed by the event-source poller', () => {
  let sqs: LocalSqs;
  let client: SQSClient;
  const pollers: SqsPoller[] = [];

  beforeAll(async () => {
    sqs = await startLocalSqs();
    client = createLocalSqsClient(sqs.endpoint);
  });

  afterAll(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
    client?.destroy();
    await sqs?.close();
  });

  function poll(queueUrl: string, handler: (records: SQSRecord[]) => Promise<unknown>): SqsPoller {
    const poller = startSqsPoller({
      client,
      queueUrl,
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      waitTimeSeconds: 1,
      handler: (event) => handler(event.Records),
      onError: () => {}, // handler failures are what these tests provoke
    });
    pollers.push(poller);
    return poller;
  }

  async function messagesIn(queueUrl: string): Promise<number> {
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible)
    );
  }

  test('a message that always fails reaches the DLQ after maxReceiveCount; a redrive hands it back with a new id', async () => {
    const queue = await createQueueWithDlq(client, {
      name: 'compensations',
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    const body = JSON.stringify({ compensationId: 'comp-1', orderId: 'order-1' });
    const { MessageId: originalId } = await client.send(
      new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: body }),
    );

    const attempts: SQSRecord[] = [];
    const failing = poll(queue.queueUrl, async (records) => {
      attempts.push(...records);
      return { batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    await vi.waitFor(async () => expect(await messagesIn(queue.dlqUrl)).toBe(1), {
      timeout: 15_000,
      interval: 200,
    });
    await failing.stop();

    expect(attempts.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(attempts[0]).toMatchObject({
      messageId: originalId,
      body,
      eventSource: 'aws:sqs',
      eventSourceARN: queue.queueArn,
      awsRegion: 'us-east-1',
    });
    expect(await messagesIn(queue.queueUrl)).toBe(0);

    const moved = await redriveDlq(client, { dlqArn: queue.dlqArn });

    expect(moved).toBe(1);
    expect(await messagesIn(queue.dlqUrl)).toBe(0);
    const consumed: SQSRecord[] = [];
    poll(queue.queueUrl, async (records) => {
      consumed.push(...records);
      return { batchItemFailures: [] };
    });
    await vi.waitFor(() => expect(consumed).toHaveLength(1), { timeout: 10_000, interval: 100 });
    expect(consumed[0]?.body).toBe(body);
    expect(consumed[0]?.messageId).not.toBe(originalId);
    expect(consumed[0]?.attributes.ApproximateReceiveCount).toBe('1');
    await vi.waitFor(async () => expect(await messagesIn(queue.queueUrl)).toBe(0), { timeout: 5_000 });
  });

  test('only the messages reported in batchItemFailures come back', async () => {
    const queue = await createQueueWithDlq(client, {
      name: 'partial-batch',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: [
          { Id: 'good', MessageBody: 'good' },
          { Id: 'bad', MessageBody: 'bad' },
        ],
      }),
    );

    const received: string[] = [];
    const poller = poll(queue.queueUrl, async (records) => {
      received.push(
        ...records.map((record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`),
      );
      const failures = records.filter((record) => record.body === 'bad');
      return { batchItemFailures: failures.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    await vi.waitFor(() => expect(received).toContain('bad#2'), { timeout: 10_000, interval: 100 });
    await poller.stop();

    expect(received.filter((entry) => entry.startsWith('good'))).toEqual(['good#1']);
  });

  test('a handler that throws fails the whole batch: every message comes back', async () => {
    const queue = await createQueueWithDlq(client, {
      name: 'throwing-handler',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: [
          { Id: 'one', MessageBody: 'one' },
          { Id: 'two', MessageBody: 'two' },
        ],
      }),
    );

    const batches: string[][] = [];
    const poller = poll(queue.queueUrl, async (records) => {
      batches.push(
        records.map((record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`).sort(),
      );
      if (batches.length === 1) throw new Error('database unavailable');
      return undefined;
    });
    await vi.waitFor(() => expect(batches).toHaveLength(2), { timeout: 10_000, interval: 100 });
    await poller.stop();

    expect(batches).toEqual([
      ['one#1', 'two#1'],
      ['one#2', 'two#2'],
    ]);
    expect(await messagesIn(queue.queueUrl)).toBe(0);
  });

  test('MaximumConcurrency: batches of one run at once, and nothing is received twice while a round is in hand', async () => {
    const queue = await createQueueWithDlq(client, {
      name: 'concurrent-batches',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );

    // Each batch waits for the others: with one batch at a time this round never completes.
    const inHand: string[] = [];
    const received: string[] = [];
    let release!: () => void;
    const allInHand = new Promise<void>((resolve) => {
      release = resolve;
    });
    const poller = startSqsPoller({
      client,
      queueUrl: queue.queueUrl,
      batchSize: 1,
      maximumConcurrency: 3,
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      waitTimeSeconds: 1,
      handler: async (event) => {
        const bodies = event.Records.map(
          (record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`,
        );
        received.push(...bodies);
        inHand.push(...bodies);
        if (new Set(inHand.map((entry) => entry.split('#')[0])).size === 3) release();
        await allInHand;
        return { batchItemFailures: [] };
      },
      onError: () => {},
    });
    pollers.push(poller);

    await vi.waitFor(() => expect(new Set(inHand).size).toBe(3), { timeout: 10_000, interval: 100 });
    await vi.waitFor(async () => expect(await messagesIn(queue.queueUrl)).toBe(0), { timeout: 10_000 });
    await poller.stop();
    expect(received.sort()).toEqual(['a#1', 'b#1', 'c#1']);
  });
});
