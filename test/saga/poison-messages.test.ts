import { randomUUID } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { findFreePort } from '../../local/ports.js';
import { createSql } from '../../src/db/client.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import { containerPaymentSaga } from '../../src/roots/saga.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { createCompensationWorker } from '../../src/saga/compensation-worker.js';
import { SqsSagaStartQueue } from '../../src/saga/saga-start-queue.js';
import { createSagaStartWorker } from '../../src/saga/saga-start-worker.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';
import {
  MAX_RECEIVE_COUNT,
  placeSagaOrder,
  type SagaEnvironment,
  startSagaEnvironment,
} from '../support/saga-environment.js';

/**
 * What the two queue workers do with a message they cannot act on, and with a start they cannot
 * make because what they depend on is down: real PostgreSQL, SQS and DynamoDB stand-ins, and, for
 * the parts that are down, a port nothing listens on (a refused connection, as when a host is gone).
 */
describe('queue workers and messages they cannot act on', () => {
  let env: SagaEnvironment;
  /** A local port with nothing behind it. */
  let deadEndpoint: string;

  beforeAll(async () => {
    env = await startSagaEnvironment();
    deadEndpoint = `http://127.0.0.1:${await findFreePort()}`;
  });
  afterAll(async () => {
    await env?.close();
  });

  function recordOf(body: string, messageId = randomUUID()): SQSRecord {
    return {
      messageId,
      receiptHandle: `receipt-${messageId}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '',
        SenderId: '',
        ApproximateFirstReceiveTimestamp: '',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:queue',
      awsRegion: LOCAL_REGION,
    };
  }
  const eventOf = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
  const aws = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };

  test('the compensation worker fails a message that is not JSON or not a compensation on its own, and records nothing', async () => {
    const worker = createCompensationWorker({
      saga: containerPaymentSaga(),
      compensations: new CompensationStore(env.db.sql),
      persistenceStore: new DynamoDBPersistenceLayer({ tableName: 'checkout-idempotency' }),
      maxReceiveCount: MAX_RECEIVE_COUNT,
      queue: new SqsCompensationQueue(env.sqs, env.queue.queueUrl),
    });
    const notJson = recordOf('{"orderId": ');
    const notACompensation = recordOf(
      JSON.stringify({ orderId: randomUUID(), steps: ['REFUND_EVERYTHING'] }),
    );

    const response = await worker(
      eventOf(notJson, notACompensation),
      createLambdaContext({ functionName: 'checkout-compensation-worker' }),
    );

    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [notJson.messageId, notACompensation.messageId].sort(),
    );
    expect(await env.db.sql`select compensation_id from failed_compensations`).toEqual([]);
  });

  test('the saga starter fails a message that is not a saga start, drops a start of an order that does not exist, and starts nothing', async () => {
    const worker = createSagaStartWorker({
      // Nothing listens there: a start that were tried would fail and be handed back.
      starter: new StepFunctionsSagaStarter(
        new SFNClient({ ...aws, endpoint: deadEndpoint }),
        env.saga.stateMachineArn,
      ),
      claims: new RecoveryStore(env.db.sql),
      visibility: new SqsSagaStartQueue(new SQSClient({ ...aws, endpoint: deadEndpoint }), 'unused'),
      startsPerSecond: 50,
    });
    const notJson = recordOf('not json');
    const notAStart = recordOf(JSON.stringify({ orderId: 'not-a-uuid', correlationId: '', chargeCents: -1 }));
    const unknownOrder = recordOf(
      JSON.stringify({ orderId: randomUUID(), correlationId: 'corr-unknown', chargeCents: 1000 }),
    );

    const response = await worker(
      eventOf(notJson, notAStart, unknownOrder),
      createLambdaContext({ functionName: 'checkout-SagaStarter', timeoutMs: 10_000 }),
    );

    // The two that are not starts go on towards the DLQ; the unknown order's start is done with.
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [notJson.messageId, notAStart.messageId].sort(),
    );
  });

  test('with the database away the saga starter hands its start back, and reports it even when the hand-back fails too', async () => {
    const downDatabase = createSql(`postgres://checkout:x@127.0.0.1:${new URL(deadEndpoint).port}/checkout`, {
      max: 1,
      connectTimeoutSeconds: 1,
    });
    const worker = createSagaStartWorker({
      starter: new StepFunctionsSagaStarter(
        new SFNClient({ ...aws, endpoint: deadEndpoint }),
        env.saga.stateMachineArn,
      ),
      claims: new RecoveryStore(downDatabase),
      visibility: new SqsSagaStartQueue(new SQSClient({ ...aws, endpoint: deadEndpoint }), 'unreachable'),
      startsPerSecond: 50,
    });
    const start = recordOf(
      JSON.stringify({ orderId: randomUUID(), correlationId: 'corr-down', chargeCents: 500 }),
    );

    try {
      const response = await worker(
        eventOf(start),
        // 2 s are kept back for the hand-back: the worker tries for about one second.
        createLambdaContext({ functionName: 'checkout-SagaStarter', timeoutMs: 3_000 }),
      );

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: start.messageId }]);
    } finally {
      await downDatabase.end({ timeout: 1 });
    }
  });

  test('CapturePayment on a capture recorded by an earlier try but not confirmed confirms it, without capturing again', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    const saga = containerPaymentSaga();
    await saga.authorizePayment(order);
    const orders = new OrderStore(env.db.sql);
    // What a release before migrations/0015 left, or a try whose confirmation was refused.
    await orders.markCaptured(order.orderId, 'cap-earlier-try', order.correlationId);

    const result = await saga.capturePayment(order);

    expect(result).toEqual({ captureId: null });
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    expect(await env.outcomes(order.orderId, 'capture')).toEqual([]);
  });

  test('a saga starter without a positive pace is refused at once, naming the value', () => {
    const deps = {
      starter: new StepFunctionsSagaStarter(new SFNClient(aws), 'arn:unused'),
      claims: new RecoveryStore(env.db.sql),
      visibility: new SqsSagaStartQueue(new SQSClient(aws), 'unused'),
    };

    expect(() => createSagaStartWorker({ ...deps, startsPerSecond: 0 })).toThrow(
      new RangeError('startsPerSecond must be positive, got 0'),
    );
    expect(() => createSagaStartWorker({ ...deps, startsPerSecond: Number.NaN })).toThrow(RangeError);
  });
});
