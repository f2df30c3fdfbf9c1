import { randomUUID } from 'node:crypto';
import { IdempotencyItemNotFoundError } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { type SimulatedProvider, startSimulatedProvider } from '../../local/payment-provider/server.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import type { PaymentGateway } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import type { CompensationMessage } from '../../src/saga/compensation-message.js';
import type { CompensationQueue } from '../../src/saga/compensation-queue.js';
import { createCompensationWorker } from '../../src/saga/compensation-worker.js';
import { PaymentSaga } from '../../src/saga/steps.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { controlProviderFaults, placeSagaOrder, providerLedger } from '../support/saga-environment.js';

const TABLE = 'compensation-idempotency';
const MAX_RECEIVE_COUNT = 3;

/** What the worker sends back to its queue: the message and its delay. */
class RecordingQueue implements CompensationQueue {
  readonly sent: { message: CompensationMessage; delaySeconds: number | undefined }[] = [];
  async send(message: CompensationMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    this.sent.push({ message, delaySeconds: options.delaySeconds });
  }
}

/**
 * The compensation worker on its own, one SQS batch at a time: its idempotency on the
 * compensationId, the attempts and failures it records, what it sends back to its queue and when,
 * and what it reports to SQS. PostgreSQL, the provider over HTTP and the DynamoDB stand-in; the
 * queue is recorded (the compensation-seams test runs the worker behind the SQS stand-in).
 */
describe('the compensation worker', () => {
  let db: TestDatabase;
  let provider: SimulatedProvider;
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let orders: OrderStore;
  let compensations: CompensationStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    provider = await startSimulatedProvider({ port: 0 });
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
    orders = new OrderStore(db.sql);
    compensations = new CompensationStore(db.sql);
  });
  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
    await provider?.close();
    await db?.drop();
  });
  afterEach(async () => {
    await controlProviderFaults(provider.url, 'DELETE');
    expect(violationsOf(await auditDatabase(db.sql))).toEqual([]);
  });

  const persistenceStore = () => new DynamoDBPersistenceLayer({ tableName: TABLE, awsSdkV3Client: client });

  function workerWith(
    options: {
      queue?: CompensationQueue;
      store?: CompensationStore;
      payments?: PaymentGateway;
      persistence?: DynamoDBPersistenceLayer;
      maxReceiveCount?: number;
    } = {},
  ) {
    return createCompensationWorker({
      saga: new PaymentSaga({
        orders,
        payments: options.payments ?? createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: 2_000 }),
      }),
      compensations: options.store ?? compensations,
      persistenceStore: options.persistence ?? persistenceStore(),
      maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
      queue: options.queue ?? new RecordingQueue(),
    });
  }

  /** An authorized card order whose compensation failed in the saga, as MarkRequiresAttention leaves it. */
  async function failedCompensation(paymentMethod = 'pm_card_visa'): Promise<CompensationMessage> {
    const order = await placeSagaOrder({ db }, paymentMethod);
    await new PaymentSaga({
      orders,
      payments: createHttpPaymentGateway({ baseUrl: provider.url }),
    }).authorizePayment(order);
    const message: CompensationMessage = {
      compensationId: `${order.orderId}:compensation`,
      orderId: order.orderId,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'CANCEL_ORDER'],
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      error: 'PaymentProviderTransientError',
      correlationId: order.correlationId,
    };
    await orders.markRequiresAttention({ ...message, orderId: order.orderId });
    return message;
  }

  function delivery(message: CompensationMessage, receiveCount: number | undefined = 1): SQSRecord {
    return {
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body: JSON.stringify(message),
      attributes: receiveCount === undefined ? {} : { ApproximateReceiveCount: String(receiveCount) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:checkout-compensations',
      awsRegion: 'us-east-1',
    } as unknown as SQSRecord;
  }
  const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
  const context = (timeoutMs = 10_000) =>
    createLambdaContext({ functionName: 'checkout-compensation-worker', timeoutMs });
  const ledgerOf = async (orderId: string) =>
    (await providerLedger(provider.url, orderId)).map((e) => `${e.operation} ${e.outcome}`);

  test('finishes the compensation: voided, released, cancelled, its row RESOLVED after one attempt', async () => {
    const message = await failedCompensation();

    const response = await workerWith()(batch(delivery(message)), context());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await compensations.get(message.compensationId)).toMatchObject({
      status: 'RESOLVED',
      attempts: 1,
    });
    expect(await orders.getOrder(message.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'VOIDED' },
    });
    expect(await ledgerOf(message.orderId)).toEqual(['authorize succeeded', 'void succeeded']);
  });

  test('a later copy of a finished compensation (a redrive, a new message id) is neither an attempt nor a call', async () => {
    const message = await failedCompensation();
    const worker = workerWith();
    await worker(batch(delivery(message)), context());

    // Built again from the audit row (an operator's retry, the sweeper): another error text and
    // correlation id, the same compensationId.
    const rebuilt = { ...message, error: 'Unknown', correlationId: message.compensationId };
    const response = await worker(batch(delivery(message, 2), delivery(rebuilt)), context());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await compensations.get(message.compensationId)).toMatchObject({
      status: 'RESOLVED',
      attempts: 1,
    });
    expect(await ledgerOf(message.orderId)).toEqual(['authorize succeeded', 'void succeeded']);
    // One idempotency record: the compensationId is the key, not the message.
    const { Items = [] } = await client.send(new ScanCommand({ TableName: TABLE }));
    expect(Items.filter((i) => i.data?.M?.compensationId?.S === message.compensationId)).toHaveLength(1);
  });

  test('remembers a finished compensation for 15 days, the DLQ retention and a day more', async () => {
    const message = await failedCompensation();
    const before = Math.floor(Date.now() / 1000);

    await workerWith()(batch(delivery(message)), context());

    const { Items = [] } = await client.send(new ScanCommand({ TableName: TABLE }));
    const item = Items.find((i) => i.data?.M?.compensationId?.S === message.compensationId);
    expect(item?.status?.S).toBe('COMPLETED');
    expect(item?.data?.M?.resolved?.BOOL).toBe(true);
    const expiration = Number(item?.expiration?.N);
    expect(expiration).toBeGreaterThanOrEqual(before + 15 * 86_400);
    expect(expiration).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 15 * 86_400);
  });

  test("a failed attempt that is not the last: reported to SQS, its row RETRYING with the error and the provider's state", async () => {
    const message = await failedCompensation('pm_void_fails');
    const record = delivery(message, MAX_RECEIVE_COUNT - 1);

    const response = await workerWith()(batch(record), context());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    const row = await compensations.get(message.compensationId);
    expect(row).toMatchObject({ status: 'RETRYING', attempts: 1 });
    expect(row?.lastError).toContain('PaymentProviderTransientError');
    expect(row?.providerState).toMatchObject({
      orderId: message.orderId,
      authorizations: [{ status: 'authorized', amountCents: 2000 }],
    });
    await workerWith()(batch(delivery(message)), context());
  });

  test('the last attempt that fails is recorded FAILED, then SQS moves it to the DLQ', async () => {
    const message = await failedCompensation('pm_void_fails');
    const record = delivery(message, MAX_RECEIVE_COUNT);

    const response = await workerWith()(batch(record), context());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(await compensations.get(message.compensationId)).toMatchObject({ status: 'FAILED', attempts: 1 });
    await workerWith()(batch(delivery(message)), context());
  });

  test('a delivery without a receive count counts as the first', async () => {
    const message = await failedCompensation('pm_void_fails');

    await workerWith({ maxReceiveCount: 1 })(batch(delivery(message, undefined)), context());

    // With a maxReceiveCount of 1 the first delivery is the last.
    expect(await compensations.get(message.compensationId)).toMatchObject({ status: 'FAILED' });
    await workerWith()(batch(delivery(message)), context());
  });

  test("with the provider unreachable the failure is recorded without a provider's state", async () => {
    const message = await failedCompensation();
    const unreachable = createHttpPaymentGateway({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1_000 });
    const record = delivery(message);

    const response = await workerWith({ payments: unreachable })(batch(record), context());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    const row = await compensations.get(message.compensationId);
    expect(row).toMatchObject({ status: 'RETRYING', providerState: null });
    expect(row?.lastError).toContain('provider unreachable');
    await workerWith()(batch(delivery(message)), context());
  });

  test('a last attempt whose failure cannot be recorded queues the compensation again instead of parking it unrecorded', async () => {
    const message = await failedCompensation('pm_void_fails');
    class CannotRecordFailures extends CompensationStore {
      override async recordFailure(): Promise<void> {
        throw new DatabaseUnavailableError('connect ECONNREFUSED');
      }
    }
    const queue = new RecordingQueue();
    const last = delivery(message, MAX_RECEIVE_COUNT);
    const notLast = delivery(message, 1);

    const lastResponse = await workerWith({ queue, store: new CannotRecordFailures(db.sql) })(
      batch(last),
      context(),
    );
    const notLastResponse = await workerWith({ queue, store: new CannotRecordFailures(db.sql) })(
      batch(notLast),
      context(),
    );

    // The last: let go, a fresh copy queued at once. Not the last: SQS retries it.
    expect(lastResponse).toEqual({ batchItemFailures: [] });
    expect(notLastResponse).toEqual({ batchItemFailures: [{ itemIdentifier: notLast.messageId }] });
    expect(queue.sent).toEqual([{ message, delaySeconds: undefined }]);
    await workerWith()(batch(delivery(message)), context());
  });

  test('a copy arriving while another holds the compensation comes back once that claim expires, spending no receive', async () => {
    const message = await failedCompensation();
    const payments = createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: 2_000 });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const holding: PaymentGateway = {
      ...payments,
      retrieve: async (input) => {
        entered();
        await held;
        return payments.retrieve(input);
      },
    };
    const queue = new RecordingQueue();

    const first = workerWith({ payments: holding })(batch(delivery(message)), context(20_000));
    await inside;
    const copy = delivery(message);
    const copyResponse = await workerWith({ queue })(batch(copy), context(20_000));
    release();

    expect(copyResponse).toEqual({ batchItemFailures: [] });
    // The first delivery's claim lasts its invocation's 20 s; the copy comes back a second after.
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]?.message).toEqual(message);
    expect(queue.sent[0]?.delaySeconds).toBeGreaterThanOrEqual(19);
    expect(queue.sent[0]?.delaySeconds).toBeLessThanOrEqual(21);
    expect(await first).toEqual({ batchItemFailures: [] });
    expect(await compensations.get(message.compensationId)).toMatchObject({
      status: 'RESOLVED',
      attempts: 1,
    });
  });

  test('the copy waits at most the 15 minutes SQS allows, and at least a second', async () => {
    const delays: (number | undefined)[] = [];
    for (const claim of [
      { expiresInMs: 2 * 60 * 60 * 1000 },
      { expiresInMs: 9_500 },
      { expiresInMs: -5_000 },
      'gone',
    ] as const) {
      const message = await failedCompensation();
      const queue = new RecordingQueue();
      let reads = 0;
      // Claimed by another delivery when this one tries; in 'gone', finished by the time it asks when.
      class ClaimedElsewhere extends DynamoDBPersistenceLayer {
        protected override async _putRecord(): Promise<void> {
          const { IdempotencyItemAlreadyExistsError } = await import('@aws-lambda-powertools/idempotency');
          throw new IdempotencyItemAlreadyExistsError('claimed by another delivery');
        }
        protected override async _getRecord(): Promise<IdempotencyRecord> {
          reads += 1;
          if (claim === 'gone' && reads > 1) throw new IdempotencyItemNotFoundError('finished meanwhile');
          const { IdempotencyRecord: Record } = await import(
            '@aws-lambda-powertools/idempotency/persistence'
          );
          return new Record({
            idempotencyKey: 'k',
            status: 'INPROGRESS',
            inProgressExpiryTimestamp: Date.now() + (claim === 'gone' ? 60_000 : claim.expiresInMs),
            expiryTimestamp: Math.floor(Date.now() / 1000) + 3600,
          });
        }
      }

      await workerWith({
        queue,
        persistence: new ClaimedElsewhere({ tableName: TABLE, awsSdkV3Client: client }),
      })(batch(delivery(message)), context());

      delays.push(queue.sent[0]?.delaySeconds);
      await workerWith()(batch(delivery(message)), context());
    }
    // A claim ending in 9.5 s: the copy comes back in 11, a second after it.
    expect(delays).toEqual([900, 11, 1, 1]);
  });
});
