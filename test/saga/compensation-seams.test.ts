import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { GetQueueAttributesCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { redriveDlq } from '../../local/aws/sqs.js';
import { type SqsPoller, startSqsPoller } from '../../local/aws/sqs-poller.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import { type PaymentGateway, paymentIdempotencyKey } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { containerPaymentSaga } from '../../src/roots/saga.js';
import { logger } from '../../src/runtime/observability.js';
import { type CompensationMessage, compensationMessageOf } from '../../src/saga/compensation-message.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { createCompensationWorker } from '../../src/saga/compensation-worker.js';
import { PaymentSaga, type StepInput } from '../../src/saga/steps.js';
import {
  dlqDepth,
  MAX_RECEIVE_COUNT,
  placeSagaOrder,
  type SagaEnvironment,
  startSagaEnvironment,
  waitFor,
} from '../support/saga-environment.js';

const STOCK = 20;

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/**
 * Where compensation meets the layers around it (docs/architecture.md, "The compensation fence"):
 * a payment step's invocation that outlives its state, the compensation worker finishing before
 * the saga parks the order, copies of one compensation delivered at once, and a batch of records
 * running in parallel. Real ASL, real task handlers, PostgreSQL, the provider over HTTP, and the
 * SQS and DynamoDB stand-ins.
 */
describe('compensation at the seams between layers', () => {
  let env: SagaEnvironment;
  let app: Sql;
  let orders: OrderStore;
  let compensations: CompensationStore;

  beforeAll(async () => {
    env = await startSagaEnvironment();
    app = await env.db.applicationSql();
    orders = new OrderStore(env.db.sql);
    compensations = new CompensationStore(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    env.interceptTasks(undefined);
    await env.clearFaults();
    expect(await env.violations()).toEqual([]);
  });

  const run = (order: { orderId: string; correlationId: string; chargeCents: number }) =>
    env.saga.startExecution({ name: order.orderId, input: order }).result;

  const succeeded = async (orderId: string, operation: string) =>
    (await env.ledger(orderId)).filter((e) => e.operation === operation && e.outcome === 'succeeded');

  async function eventTypes(orderId: string): Promise<string[]> {
    const rows = await env.db.sql<{ type: string }[]>`
      select type from order_events where order_id = ${orderId} order by created_at
    `;
    return rows.map((row) => row.type);
  }

  async function storeCreditRefunds(orderId: string): Promise<number> {
    const [row] = await env.db.sql<{ count: number }[]>`
      select count(*)::int as count from wallet_transactions where order_id = ${orderId} and kind = 'REFUND'
    `;
    return row?.count ?? 0;
  }

  /** What the poller leaves on the queue: visible, in flight, and sent with a delay. */
  async function messagesLeft(): Promise<number> {
    const { Attributes = {} } = await env.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: env.queue.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  describe('a payment step whose invocation outlives its state', () => {
    /** What Step Functions reports for an attempt whose TimeoutSeconds fired; the invocation runs on. */
    function stateTimedOut(): Error {
      const error = new Error('the state timed out; its invocation is still running');
      error.name = 'States.Timeout';
      return error;
    }

    /**
     * The invocation the state gave up on: the step's own code (the PaymentSaga every task handler
     * runs, over the database as the application role and the provider over HTTP), whose `held`
     * provider call waits until the test lets it through, as a provider that answers late would.
     */
    function lateInvocation(held?: 'authorize' | 'capture') {
      const { promise: reached, resolve: reach } = deferred();
      const { promise: released, resolve: release } = deferred();
      const provider = createHttpPaymentGateway({ baseUrl: env.providerUrl, timeoutMs: 5_000 });
      const late = async (operation: 'authorize' | 'capture') => {
        if (operation !== held) return;
        reach();
        await released;
      };
      const payments: PaymentGateway = {
        authorize: async (input) => {
          await late('authorize');
          return provider.authorize(input);
        },
        capture: async (input) => {
          await late('capture');
          return provider.capture(input);
        },
        void: (input) => provider.void(input),
        refund: (input) => provider.refund(input),
        retrieve: (input) => provider.retrieve(input),
      };
      return { saga: new PaymentSaga({ orders: new OrderStore(app), payments }), reached, release };
    }

    test('a capture that lands after compensation fenced the order is refunded by its own step: CANCELLED, never CONFIRMED, nothing left charged', async () => {
      const order = await placeSagaOrder(env, 'pm_card_visa', { storeCreditCents: 500, stock: STOCK });
      const late = lateInvocation('capture');
      let lateCapture: Promise<unknown> | undefined;
      let compensationAsked = false;
      env.interceptTasks(async (state, input, invoke) => {
        if (state === 'CapturePayment') {
          // The first attempt read the order and called the provider, which has not answered when
          // the state's timeout fires; the retries time out the same way.
          lateCapture ??= late.saga.capturePayment(input as StepInput);
          await late.reached;
          throw stateTimedOut();
        }
        if (state === 'ReversePayment' && !compensationAsked) {
          // The provider answers the late capture now: after the fence, the stock and the credit
          // came back, before compensation asks the provider what it holds.
          compensationAsked = true;
          late.release();
          await lateCapture?.catch(() => {});
        }
        return invoke();
      });

      const result = await run(order);

      expect(result.status).toBe('SUCCEEDED');
      await expect(lateCapture).rejects.toMatchObject({ name: 'OrderFencedError' });
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        cancellationReason: 'PAYMENT_CAPTURE_FAILED',
        payment: { status: 'REFUNDED' },
        fenced: true,
      });
      const events = await eventTypes(order.orderId);
      expect(events).not.toContain('ORDER_CONFIRMED');
      expect(events.indexOf('ORDER_FENCED')).toBeLessThan(events.indexOf('PAYMENT_REFUNDED'));
      // Captured once, refunded once with the order's refund key: nothing left charged.
      expect(await succeeded(order.orderId, 'capture')).toHaveLength(1);
      expect((await succeeded(order.orderId, 'refund')).map((e) => e.idempotencyKey)).toEqual([
        paymentIdempotencyKey(order.orderId, 'refund'),
      ]);
      expect(await new CatalogStore(env.db.sql).getProduct(order.sku)).toMatchObject({
        onHand: STOCK,
        reserved: 0,
      });
      expect(await new WalletStore(env.db.sql).getWallet(order.customerId)).toMatchObject({
        balanceCents: 5000,
      });
    });

    test('a capture that confirmed before compensation could fence the order is a sale: the execution ends confirmed, nothing refunded', async () => {
      const order = await placeSagaOrder(env, 'pm_card_visa', { storeCreditCents: 500, stock: STOCK });
      const late = lateInvocation();
      let lateCapture: Promise<unknown> | undefined;
      env.interceptTasks(async (state, input, invoke) => {
        if (state === 'CapturePayment') {
          // The invocation captures and confirms, but only after the state has given up on it.
          lateCapture ??= late.saga.capturePayment(input as StepInput);
          await lateCapture;
          throw stateTimedOut();
        }
        return invoke();
      });

      const result = await run(order);

      expect(result.status).toBe('SUCCEEDED');
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CONFIRMED',
        payment: { status: 'CAPTURED' },
        fenced: false,
      });
      expect(await eventTypes(order.orderId)).not.toContain('ORDER_FENCED');
      expect(await succeeded(order.orderId, 'capture')).toHaveLength(1);
      expect(await succeeded(order.orderId, 'refund')).toEqual([]);
      expect(await new CatalogStore(env.db.sql).getProduct(order.sku)).toMatchObject({
        onHand: STOCK - 2,
        reserved: 0,
      });
    });

    test('an authorization that lands after compensation found nothing and recorded the void is voided by its own step', async () => {
      const order = await placeSagaOrder(env, 'pm_card_visa', { storeCreditCents: 500, stock: STOCK });
      const late = lateInvocation('authorize');
      let lateAuthorize: Promise<unknown> | undefined;
      env.interceptTasks(async (state, input, invoke) => {
        if (state === 'AuthorizePayment') {
          lateAuthorize ??= late.saga.authorizePayment(input as StepInput);
          await late.reached;
          throw stateTimedOut();
        }
        return invoke();
      });

      const result = await run(order);

      // Compensation asked the provider before the authorization existed: nothing to void.
      expect(result.status).toBe('SUCCEEDED');
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        cancellationReason: 'PAYMENT_AUTHORIZATION_TIMEOUT',
        payment: { status: 'VOIDED', authorizationId: null },
      });
      expect(await env.ledger(order.orderId)).toEqual([]);

      late.release();

      await expect(lateAuthorize).rejects.toMatchObject({ name: 'OrderFencedError' });
      expect(await succeeded(order.orderId, 'authorize')).toHaveLength(1);
      expect((await succeeded(order.orderId, 'void')).map((e) => e.idempotencyKey)).toEqual([
        paymentIdempotencyKey(order.orderId, 'void'),
      ]);
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        payment: { status: 'VOIDED' },
      });
    });
  });

  test('an authorization the provider granted after compensation found nothing is voided by a later compensation run, which asks the provider again', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa', { stock: STOCK });
    env.interceptTasks(async (state, _input, invoke) => {
      if (state === 'AuthorizePayment') {
        const error = new Error('the state timed out');
        error.name = 'States.Timeout';
        throw error;
      }
      return invoke();
    });
    expect((await run(order)).status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED', authorizationId: null },
    });
    // The provider answers the authorize call after every step gave up: nobody is left to void it.
    const provider = createHttpPaymentGateway({ baseUrl: env.providerUrl });
    await provider.authorize({
      orderId: order.orderId,
      amountCents: order.chargeCents,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'authorize'),
    });

    // The operator's remedy (docs/runbooks/dlq-redrive.md): a compensation of the payment alone.
    await new SqsCompensationQueue(env.sqs, env.queue.queueUrl).send({
      compensationId: `${order.orderId}:late-authorization`,
      orderId: order.orderId,
      steps: ['REVERSE_PAYMENT'],
      cancellationReason: 'PAYMENT_AUTHORIZATION_TIMEOUT',
      error: 'LateAuthorization',
      correlationId: order.correlationId,
    });
    env.startWorker();
    await waitFor(async () => (await succeeded(order.orderId, 'void')).length === 1, 20_000);
    await waitFor(async () => (await messagesLeft()) === 0, 10_000);
    await env.stopWorker();

    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED' },
    });
  });

  test('MarkRequiresAttention after the worker already cancelled the order ends the execution as cancelled, not failed', async () => {
    const order = await placeSagaOrder(env, 'pm_void_fails', { storeCreditCents: 300, stock: STOCK });
    const compensationId = `${order.orderId}:compensation`;
    env.interceptTasks(async (state, _input, invoke) => {
      if (state === 'MarkRequiresAttention') {
        // QueueCompensation has sent the rest; the cause is fixed and the worker finishes first.
        await env.clearFaults();
        env.startWorker();
        await waitFor(async () => (await orders.getOrder(order.orderId))?.status === 'CANCELLED', 20_000);
        await env.stopWorker();
      }
      return invoke();
    });

    const result = await run(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'VOIDED' },
    });
    expect(await compensations.get(compensationId)).toMatchObject({
      status: 'RESOLVED',
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
    });
    expect(await succeeded(order.orderId, 'void')).toHaveLength(1);
    expect(await messagesLeft()).toBe(0);
  });

  describe('copies of one compensation delivered at once', () => {
    let poller: SqsPoller | undefined;
    afterEach(async () => {
      await poller?.stop();
      poller = undefined;
    });

    /** Runs the deployed worker handler behind an event source; records every batch and its answer. */
    function startRecordingWorker(functionTimeoutMs: number) {
      const batches: { size: number; response: SQSBatchResponse }[] = [];
      poller = startSqsPoller({
        client: env.sqs,
        queueUrl: env.queue.queueUrl,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: 2,
        functionName: 'checkout-compensation-worker',
        functionTimeoutMs,
        handler: async (event, context) => {
          const { handler } = await import('../../lambdas/workers/compensation-worker.js');
          const response = (await handler(event, context)) as SQSBatchResponse;
          batches.push({ size: event.Records.length, response });
          return response;
        },
      });
      return batches;
    }

    /** An order whose compensation failed into the DLQ while the provider could not void. */
    async function compensationInTheDlq() {
      const order = await placeSagaOrder(env, 'pm_void_fails', { storeCreditCents: 300, stock: STOCK });
      const compensationId = `${order.orderId}:compensation`;
      expect(await run(order)).toMatchObject({ status: 'FAILED', error: 'CompensationFailed' });
      env.startWorker();
      await waitFor(async () => (await compensations.get(compensationId))?.status === 'FAILED', 30_000);
      await waitFor(async () => (await dlqDepth(env)) === 1, 10_000);
      await env.stopWorker();
      return { order, compensationId };
    }

    test('the redrive, an operator retry and a worker-queued copy at once: resolved once, no failure recorded, nothing in the DLQ', async () => {
      const { order, compensationId } = await compensationInTheDlq();
      const before = await compensations.get(compensationId);
      expect(before).toMatchObject({ status: 'FAILED', attempts: MAX_RECEIVE_COUNT });
      await env.clearFaults();
      // The provider answers slowly: the copy that claims the compensation is still working when
      // the other two ask for it.
      await env.setFaults({ latencyMs: 200 });
      const queue = new SqsCompensationQueue(env.sqs, env.queue.queueUrl);
      const message = compensationMessageOf(before as NonNullable<typeof before>);
      // The operator redrives the DLQ; another operator retries it (what POST .../retry does:
      // send, then mark the row PENDING); a worker had queued a copy of it again.
      expect(await redriveDlq(env.sqs, { dlqArn: env.queue.dlqArn, sourceArn: env.queue.queueArn })).toBe(1);
      await queue.send(message);
      await compensations.markRequeued(compensationId, {
        requestedBy: 'arn:operator',
        correlationId: 'corr',
      });
      await queue.send(message);

      const batches = startRecordingWorker(5_000);
      await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
      // The two copies come back once the first one's claim has expired, and end as no-ops.
      await waitFor(async () => (await messagesLeft()) === 0, 30_000);

      expect(batches[0]?.size, 'the three copies arrived in one batch').toBe(3);
      expect(batches.flatMap((batch) => batch.response.batchItemFailures)).toEqual([]);
      expect(await compensations.get(compensationId)).toMatchObject({
        status: 'RESOLVED',
        attempts: MAX_RECEIVE_COUNT + 1,
        lastError: before?.lastError,
      });
      expect(await dlqDepth(env)).toBe(0);
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        payment: { status: 'VOIDED' },
      });
      expect(await succeeded(order.orderId, 'void')).toHaveLength(1);
      expect(await storeCreditRefunds(order.orderId)).toBe(1);
    });

    test('a worker that dies holding the compensation: the next copy waits out its claim and finishes the job, with no failure recorded', async () => {
      const order = await placeSagaOrder(env, 'pm_void_fails', { storeCreditCents: 300, stock: STOCK });
      const compensationId = `${order.orderId}:compensation`;
      expect(await run(order)).toMatchObject({ status: 'FAILED', error: 'CompensationFailed' });
      await env.clearFaults();
      // A worker takes the saga's message, claims the compensation and dies while it asks the
      // provider: its claim stands until its invocation's deadline, its message comes back after
      // the visibility timeout (here shorter than that deadline, as in local mode).
      const received = await env.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: env.queue.queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 2,
          AttributeNames: ['All'],
        }),
      );
      const saga = received.Messages?.[0] as Message;
      const { promise: asked, resolve: ask } = deferred();
      const provider = createHttpPaymentGateway({ baseUrl: env.providerUrl });
      const dying = createCompensationWorker({
        saga: new PaymentSaga({
          orders: new OrderStore(app),
          payments: {
            ...provider,
            retrieve: () => {
              ask();
              return new Promise(() => {}); // the process is gone: no answer, ever
            },
          },
        }),
        compensations,
        persistenceStore: new DynamoDBPersistenceLayer({ tableName: 'checkout-idempotency' }),
        maxReceiveCount: MAX_RECEIVE_COUNT,
        queue: new SqsCompensationQueue(env.sqs, env.queue.queueUrl),
      });
      void dying(
        sqsEventOf(saga, 1),
        createLambdaContext({ functionName: 'checkout-compensation-worker', timeoutMs: 8_000 }),
      );
      await asked;

      const batches = startRecordingWorker(30_000);
      await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 40_000);
      await waitFor(async () => (await messagesLeft()) === 0, 20_000);

      expect(batches.flatMap((batch) => batch.response.batchItemFailures)).toEqual([]);
      expect(await dlqDepth(env)).toBe(0);
      const row = await compensations.get(compensationId);
      expect(row).toMatchObject({ status: 'RESOLVED', lastError: 'PaymentProviderTransientError' });
      expect(await orders.getOrder(order.orderId)).toMatchObject({
        status: 'CANCELLED',
        payment: { status: 'VOIDED' },
      });
      expect(await succeeded(order.orderId, 'void')).toHaveLength(1);
    });
  });

  test("each record of a batch logs with its own order's ids, though the records run in parallel", async () => {
    const placed = [];
    for (let i = 0; i < 3; i += 1) {
      const order = await placeSagaOrder(env, 'pm_card_visa', { storeCreditCents: 300, stock: STOCK });
      placed.push(order);
    }
    // The first one's payment is authorized at the provider, which cannot void it yet: its
    // compensation fails; the other two have nothing at the provider and resolve.
    const [failing] = placed as [(typeof placed)[number]];
    const provider = createHttpPaymentGateway({ baseUrl: env.providerUrl });
    const authorization = await provider.authorize({
      orderId: failing.orderId,
      amountCents: failing.chargeCents,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      idempotencyKey: paymentIdempotencyKey(failing.orderId, 'authorize'),
    });
    if (authorization.outcome !== 'AUTHORIZED') throw new Error('not authorized');
    await orders.markAuthorized(failing.orderId, authorization.authorizationId, failing.correlationId);
    await env.setFaults({ voidFails: true });
    const messages: CompensationMessage[] = [];
    for (const order of placed) {
      const message: CompensationMessage = {
        compensationId: `${order.orderId}:compensation`,
        orderId: order.orderId,
        steps: ['RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'REVERSE_PAYMENT', 'CANCEL_ORDER'],
        cancellationReason: 'PAYMENT_CAPTURE_FAILED',
        error: 'PaymentProviderTransientError',
        correlationId: order.correlationId,
      };
      await orders.markRequiresAttention(message);
      messages.push(message);
    }
    const worker = createCompensationWorker({
      saga: containerPaymentSaga(),
      compensations,
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: 'checkout-idempotency' }),
      maxReceiveCount: MAX_RECEIVE_COUNT,
      queue: new SqsCompensationQueue(env.sqs, env.queue.queueUrl),
    });
    const invoke = (records: CompensationMessage[], receiveCount: number) =>
      worker(
        eventOf(records, receiveCount),
        createLambdaContext({ functionName: 'checkout-compensation-worker' }),
      );

    const lines: string[] = [];
    const level = logger.getLevelName();
    logger.setLogLevel('INFO');
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    let response: SQSBatchResponse;
    try {
      response = await invoke(messages, 1);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      logger.setLogLevel(level);
    }

    expect(response.batchItemFailures).toHaveLength(1);
    const logged = lines
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => typeof line.compensationId === 'string');
    expect(logged.map((line) => line.message).sort()).toEqual([
      'compensation failed',
      'compensation resolved',
      'compensation resolved',
    ]);
    for (const line of logged) {
      const order = placed.find((o) => line.compensationId === `${o.orderId}:compensation`);
      expect({ message: line.message, orderId: line.orderId, correlationId: line.correlationId }).toEqual({
        message: line.message,
        orderId: order?.orderId,
        correlationId: order?.correlationId,
      });
    }
    expect(logged.find((line) => line.message === 'compensation failed')?.orderId).toBe(failing.orderId);

    // Settle the one left: the cause fixed, its next delivery finishes it.
    await env.clearFaults();
    expect((await invoke([messages[0] as CompensationMessage], 2)).batchItemFailures).toEqual([]);
    expect(await orders.getOrder(failing.orderId)).toMatchObject({ status: 'CANCELLED' });
  });

  /** The event the SQS event source hands the worker for one received message. */
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

  /** A batch of compensation messages as the event source hands them over. */
  function eventOf(messages: readonly CompensationMessage[], receiveCount: number): SQSEvent {
    return {
      Records: messages.map((message, index) => ({
        ...(sqsEventOf(
          {
            MessageId: `message-${index}-${receiveCount}`,
            ReceiptHandle: `receipt-${index}`,
            Body: JSON.stringify(message),
          },
          receiveCount,
        ).Records[0] as object),
      })),
    } as unknown as SQSEvent;
  }
});
