import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { approximateQueueDepth, redriveDlq } from '../../local/aws/sqs.js';
import {
  clearRecordFailures,
  failedRecords,
  failRecords,
  installRecordFailures,
} from '../../local/faults/record-failures.js';
import type { PaymentEffect } from '../../local/faults/side-effects.js';
import { INFRASTRUCTURE_RETRY } from '../../src/config/budget.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { paymentIdempotencyKey } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { containerPaymentSaga } from '../../src/roots/saga.js';
import { type CompensationQueue, SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { createCompensationWorker } from '../../src/saga/compensation-worker.js';
import { COMPENSATION_STEPS } from '../../src/saga/steps.js';
import {
  dlqDepth,
  MAX_RECEIVE_COUNT,
  placeSagaOrder,
  queueDepth,
  type SagaEnvironment,
  startSagaEnvironment,
  waitFor,
} from '../support/saga-environment.js';

/**
 * The crash no retry policy hides: the provider did the work and the database write that records
 * it failed. For every provider side effect (authorize, capture, void, refund), in the saga's
 * tasks and in the compensation worker, the record fails right after the provider call succeeded;
 * the saga must still end in the right state, with no double effect and no money lost.
 */
describe('a database write that fails right after a provider side effect (real ASL, PostgreSQL, provider over HTTP)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;
  let compensations: CompensationStore;
  let injected: string[] = [];

  beforeAll(async () => {
    env = await startSagaEnvironment();
    orders = new OrderStore(env.db.sql);
    compensations = new CompensationStore(env.db.sql);
    // The emulator's fault injection, from outside the product: a trigger in this test's database.
    await installRecordFailures(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    await clearRecordFailures(env.db.sql);
    await env.clearFaults();
    expect(await env.violations()).toEqual([]);
  });

  /** Makes the record after `effect` of `orderId` fail `times` times, as if the database went away. */
  async function failRecordAfter(rules: { effect: PaymentEffect; orderId: string; times: number }[]) {
    injected = [];
    for (const rule of rules) await failRecords(env.db.sql, rule);
  }

  /** The records the rules failed so far, `effect:orderId` once per failure. */
  async function recordsFailed(): Promise<void> {
    injected = await failedRecords(env.db.sql);
  }

  const run = (order: { orderId: string; correlationId: string; chargeCents: number }) =>
    env.saga.startExecution({ name: order.orderId, input: order }).result;

  /** Captured minus refunded at the provider: what the customer was charged in the end. */
  async function netCharge(orderId: string): Promise<number> {
    const ledger = await env.ledger(orderId);
    const sum = (operation: string) =>
      ledger
        .filter((e) => e.operation === operation && e.outcome === 'succeeded')
        .reduce((total, e) => total + e.amountCents, 0);
    return sum('capture') - sum('refund');
  }

  test('authorize: the retry gets the same authorization from the provider, records it, and the order is CONFIRMED', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    await failRecordAfter([{ effect: 'authorize', orderId: order.orderId, times: 2 }]);

    const result = await run(order);
    await recordsFailed();

    expect(injected).toHaveLength(2);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    // The retries replayed the first authorization (same key): one at the provider, one capture.
    expect(await env.outcomes(order.orderId, 'authorize')).toEqual(['succeeded']);
    expect(await env.outcomes(order.orderId, 'capture')).toEqual(['succeeded']);
    expect(await netCharge(order.orderId)).toBe(order.chargeCents);
  });

  test('capture: the retry records the replayed capture; CONFIRMED, charged once, nothing voided', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    await failRecordAfter([{ effect: 'capture', orderId: order.orderId, times: 1 }]);

    const result = await run(order);
    await recordsFailed();

    expect(injected).toEqual([`capture:${order.orderId}`]);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    expect(await env.outcomes(order.orderId, 'capture')).toEqual(['succeeded']);
    expect(await env.outcomes(order.orderId, 'void')).toEqual([]);
    expect(await netCharge(order.orderId)).toBe(order.chargeCents);
  });

  test('capture recorded never (past every infrastructure retry): compensation finds the capture at the provider and refunds it', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa', { storeCreditCents: 300 });
    await failRecordAfter([{ effect: 'capture', orderId: order.orderId, times: Number.POSITIVE_INFINITY }]);

    const result = await run(order);
    await recordsFailed();

    // The first try plus the 12 infrastructure retries of CapturePayment (the budget's policy).
    expect(injected).toHaveLength(1 + INFRASTRUCTURE_RETRY.MaxAttempts);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'REFUNDED' },
    });
    // The row still said AUTHORIZED; the provider said captured. No void was tried.
    expect(await env.outcomes(order.orderId, 'void')).toEqual([]);
    expect(await env.outcomes(order.orderId, 'refund')).toEqual(['succeeded']);
    expect(await netCharge(order.orderId)).toBe(0);
  });

  test('void: the retry sees the authorization voided at the provider and records it; CANCELLED, voided once', async () => {
    const order = await placeSagaOrder(env, 'pm_capture_fails');
    await failRecordAfter([{ effect: 'void', orderId: order.orderId, times: 1 }]);

    const result = await run(order);
    await recordsFailed();

    expect(injected).toEqual([`void:${order.orderId}`]);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'VOIDED' },
    });
    expect(await env.outcomes(order.orderId, 'void')).toEqual(['succeeded']);
    expect(await netCharge(order.orderId)).toBe(0);
  });

  test('refund: the retry sees the capture refunded at the provider and records it; refunded once', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    await failRecordAfter([
      { effect: 'capture', orderId: order.orderId, times: Number.POSITIVE_INFINITY },
      { effect: 'refund', orderId: order.orderId, times: 1 },
    ]);

    const result = await run(order);
    await recordsFailed();

    expect(injected.filter((key) => key.startsWith('refund:'))).toHaveLength(1);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'REFUNDED' },
    });
    expect(await env.outcomes(order.orderId, 'refund')).toEqual(['succeeded']);
    expect(await netCharge(order.orderId)).toBe(0);
  });

  test('compensation worker: its void succeeded and the record failed; the next delivery finds the void and finishes', async () => {
    const order = await placeSagaOrder(env, 'pm_void_fails');
    const compensationId = `${order.orderId}:compensation`;
    const parked = await run(order);
    expect(parked).toMatchObject({ status: 'FAILED', error: 'CompensationFailed' });

    await env.clearFaults();
    await failRecordAfter([{ effect: 'void', orderId: order.orderId, times: 1 }]);
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
    await env.stopWorker();
    await recordsFailed();

    expect(injected).toEqual([`void:${order.orderId}`]);
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED' },
    });
    expect((await env.outcomes(order.orderId, 'void')).filter((o) => o === 'succeeded')).toHaveLength(1);
    expect(await compensations.get(compensationId)).toMatchObject({ status: 'RESOLVED', attempts: 2 });
  });

  test('a compensation parked in the DLQ because the payment was captured resolves with a refund after redrive', async () => {
    // What the old worker left behind: the capture succeeded at the provider but was never
    // recorded, the void was refused (the provider remembers that refusal under the void key),
    // and the message went to the DLQ. A redrive that voids again can never succeed.
    const order = await placeSagaOrder(env, 'pm_card_visa');
    const compensationId = `${order.orderId}:compensation`;
    const provider = createHttpPaymentGateway({ baseUrl: env.providerUrl });
    const authorization = await provider.authorize({
      orderId: order.orderId,
      amountCents: order.chargeCents,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'authorize'),
    });
    if (authorization.outcome !== 'AUTHORIZED') throw new Error('not authorized');
    await orders.markAuthorized(order.orderId, authorization.authorizationId, order.correlationId);
    await provider.capture({
      orderId: order.orderId,
      authorizationId: authorization.authorizationId,
      amountCents: order.chargeCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    });
    await expect(
      provider.void({
        orderId: order.orderId,
        authorizationId: authorization.authorizationId,
        idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
      }),
    ).rejects.toMatchObject({ name: 'PaymentRejectedError', code: 'AUTHORIZATION_CAPTURED' });
    const message = {
      compensationId,
      orderId: order.orderId,
      steps: [...COMPENSATION_STEPS],
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      error: 'PaymentRejectedError',
      correlationId: order.correlationId,
    };
    await orders.markRequiresAttention(message);
    await compensations.recordFailure(compensationId, {
      error: 'PaymentRejectedError: authorization is captured; refund it',
      final: true,
      providerState: null,
    });
    await env.sqs.send(
      new SendMessageCommand({ QueueUrl: env.queue.dlqUrl, MessageBody: JSON.stringify(message) }),
    );

    expect(await redriveDlq(env.sqs, { dlqArn: env.queue.dlqArn, sourceArn: env.queue.queueArn })).toBe(1);
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
    await env.stopWorker();

    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'REFUNDED' },
    });
    expect(await env.outcomes(order.orderId, 'refund')).toEqual(['succeeded']);
    expect(await netCharge(order.orderId)).toBe(0);
  });

  test('a failed worker attempt records what the provider holds for the order', async () => {
    const order = await placeSagaOrder(env, 'pm_void_fails');
    const compensationId = `${order.orderId}:compensation`;
    await run(order);

    env.startWorker();
    await waitFor(async () => ((await compensations.get(compensationId))?.attempts ?? 0) >= 1, 10_000);
    await waitFor(async () => (await compensations.get(compensationId))?.providerState !== null, 10_000);
    await env.stopWorker();

    const row = await compensations.get(compensationId);
    expect(row?.providerState).toMatchObject({
      orderId: order.orderId,
      authorizations: [{ status: 'authorized', amountCents: order.chargeCents, capturedCents: 0 }],
    });
    // Let it finish (from the DLQ if it got there), so the invariants hold for the next test.
    await env.clearFaults();
    env.startWorker();
    await waitFor(async () => {
      const status = (await compensations.get(compensationId))?.status;
      if (status === 'FAILED')
        await redriveDlq(env.sqs, { dlqArn: env.queue.dlqArn, sourceArn: env.queue.queueArn });
      return status === 'RESOLVED';
    }, 30_000);
    await env.stopWorker();
  });

  /** The saga's compensation message for `orderId`, received from the compensation queue. */
  async function receiveCompensation(orderId: string, visibilityTimeoutSeconds: number): Promise<Message> {
    const received = await env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.queue.queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 1,
        VisibilityTimeout: visibilityTimeoutSeconds,
        AttributeNames: ['All'],
      }),
    );
    const [message] = received.Messages ?? [];
    if (!message?.Body?.includes(orderId)) throw new Error(`the saga queued no compensation for ${orderId}`);
    return message;
  }

  /** The event the SQS event source hands the worker for `message`, received `receiveCount` times. */
  function sqsEventOf(message: Message, receiveCount: number): SQSEvent {
    return {
      Records: [
        {
          messageId: message.MessageId,
          receiptHandle: message.ReceiptHandle,
          body: message.Body,
          attributes: { ApproximateReceiveCount: String(receiveCount) },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: env.queue.queueArn,
          awsRegion: 'us-east-1',
        },
      ],
    } as unknown as SQSEvent;
  }

  /** A compensation worker whose database goes away as an attempt fails: its failure cannot be written. */
  function workerThatCannotRecordFailures(queue: CompensationQueue) {
    const worker = createCompensationWorker({
      saga: containerPaymentSaga(),
      compensations: Object.assign(Object.create(compensations) as CompensationStore, {
        recordFailure: async () => {
          throw new DatabaseUnavailableError('injected: the database went away');
        },
      }),
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: 'checkout-idempotency' }),
      maxReceiveCount: MAX_RECEIVE_COUNT,
      queue,
    });
    return (event: SQSEvent) =>
      worker(event, createLambdaContext({ functionName: 'checkout-compensation-worker' }));
  }

  test('a last worker attempt that cannot record its failure queues the compensation again instead of parking it in the DLQ unrecorded', async () => {
    const order = await placeSagaOrder(env, 'pm_void_fails');
    const compensationId = `${order.orderId}:compensation`;
    await run(order);
    // Take the saga's message off the queue: the worker below gets it on its last receive.
    const saga = await receiveCompensation(order.orderId, 30);
    await env.sqs.send(
      new DeleteMessageCommand({ QueueUrl: env.queue.queueUrl, ReceiptHandle: saga.ReceiptHandle }),
    );
    const worker = workerThatCannotRecordFailures(new SqsCompensationQueue(env.sqs, env.queue.queueUrl));

    const result = await worker(sqsEventOf(saga, MAX_RECEIVE_COUNT));

    // This copy is let go (SQS will not park it), and a fresh one waits on the queue.
    expect(result.batchItemFailures).toEqual([]);
    expect(await approximateQueueDepth(env.sqs, env.queue.queueUrl)).toBe(1);
    expect(await approximateQueueDepth(env.sqs, env.queue.dlqUrl)).toBe(0);
    expect((await compensations.get(compensationId))?.status).not.toBe('FAILED');
    // Once the cause is fixed, the re-queued copy finishes the compensation.
    await env.clearFaults();
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
    await env.stopWorker();
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED' },
    });
  });

  test('a worker that dies right after queueing an unrecordable last attempt again: the copy resolves the compensation, and the original SQS then parks in the DLQ redrives to nothing more', async () => {
    const order = await placeSagaOrder(env, 'pm_void_fails');
    const compensationId = `${order.orderId}:compensation`;
    await run(order);
    // Receive the saga's message until the next receive is its last before the DLQ.
    for (let receive = 1; receive < MAX_RECEIVE_COUNT; receive++) await receiveCompensation(order.orderId, 0);
    const last = await receiveCompensation(order.orderId, 1);
    expect(last.Attributes?.ApproximateReceiveCount).toBe(String(MAX_RECEIVE_COUNT));
    // The process dies as soon as the copy is sent: no batch response, so nothing deletes the original.
    const queued = await queueDepth(env);
    const sqsQueue = new SqsCompensationQueue(env.sqs, env.queue.queueUrl);
    const worker = workerThatCannotRecordFailures({
      async send(message) {
        await sqsQueue.send(message);
        throw new Error('injected: the worker process died');
      },
    });

    await expect(worker(sqsEventOf(last, MAX_RECEIVE_COUNT))).resolves.toMatchObject({
      batchItemFailures: [{ itemIdentifier: last.MessageId }],
    });

    expect(await queueDepth(env), 'the copy, next to the original in flight').toBe(queued + 1);
    await env.clearFaults();
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
    // Past its last receive, the original goes to the DLQ (its alarm fires); a redrive is harmless.
    await waitFor(async () => (await dlqDepth(env)) === 1, 20_000);
    expect(await redriveDlq(env.sqs, { dlqArn: env.queue.dlqArn, sourceArn: env.queue.queueArn })).toBe(1);
    await waitFor(async () => (await queueDepth(env)) + (await dlqDepth(env)) === 0, 20_000);
    await env.stopWorker();

    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED' },
    });
    expect((await env.outcomes(order.orderId, 'void')).filter((o) => o === 'succeeded')).toHaveLength(1);
    expect(await compensations.get(compensationId)).toMatchObject({ status: 'RESOLVED' });
  });
});
