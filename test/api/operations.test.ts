import { randomUUID } from 'node:crypto';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGetAdminOrderHandler, createRetryCompensationHandler } from '../../lambdas/api/operations.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import {
  createLocalSqsClient,
  createQueueWithDlq,
  type LocalSqs,
  type QueueWithDlq,
  startLocalSqs,
} from '../../local/aws/sqs.js';
import { createLocalStateMachine } from '../../local/aws/step-functions.js';
import {
  type LocalStepFunctionsEndpoint,
  startStepFunctionsEndpoint,
} from '../../local/aws/step-functions-endpoint.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import type { AdminOrderDependencies, CompensationRetryDependencies } from '../../src/api/operations.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderHistoryStore } from '../../src/db/order-history.js';
import { OrderStore } from '../../src/db/orders.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import type { SagaInspector } from '../../src/saga/saga-starter.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, orderWithFailedCompensation, seedProducts } from '../support/fixtures.js';
import { createRouteCoverage } from './support/coverage.js';
import { unreachableSql } from './support/environment.js';
import { ADMIN_ARN, apiEvent, type EventOptions, invoke } from './support/events.js';

type Operation = 'getAdminOrder' | 'retryCompensation';
const coverage = createRouteCoverage(['getAdminOrder', 'retryCompensation']);
const ROUTES: Record<Operation, Pick<EventOptions, 'method' | 'resource'>> = {
  getAdminOrder: { method: 'GET', resource: '/v1/admin/orders/{orderId}' },
  retryCompensation: { method: 'POST', resource: '/v1/admin/compensations/{compensationId}/retry' },
};

describe('operator routes: the admin order view and compensation retry', () => {
  let db: TestDatabase;
  let sqsServer: LocalSqs;
  let sqs: SQSClient;
  let queue: QueueWithDlq;
  let stepFunctions: LocalStepFunctionsEndpoint;
  let sfn: SFNClient;
  let sagas: SagaInspector;
  let handlers: Record<Operation, ApiGatewayHandler>;
  // Every execution of this machine fails, as the payment saga does when a compensation fails.
  const machine = createLocalStateMachine({
    definition: { StartAt: 'CompensationFailed', States: { CompensationFailed: { Type: 'Fail' } } },
  });

  function handlersOver(sql: Sql): Record<Operation, ApiGatewayHandler> {
    const compensations = new CompensationStore(sql);
    const orderDependencies: AdminOrderDependencies = {
      orders: new OrderStore(sql),
      history: new OrderHistoryStore(sql),
      compensations,
      sagas,
    };
    const retryDependencies: CompensationRetryDependencies = {
      compensations,
      queue: new SqsCompensationQueue(sqs, queue.queueUrl),
    };
    return {
      getAdminOrder: createGetAdminOrderHandler(orderDependencies),
      retryCompensation: createRetryCompensationHandler(retryDependencies),
    };
  }

  function call(
    operation: Operation,
    pathParameters: Record<string, string>,
    identity: { adminArn?: string; customerId?: string } = { adminArn: ADMIN_ARN },
    through: Record<Operation, ApiGatewayHandler> = handlers,
  ) {
    const event = apiEvent({ ...ROUTES[operation], pathParameters, ...identity });
    return invoke(through[operation], event).then((result) => coverage.record(operation, result));
  }

  const orderWithCompensation = (overrides: { customerId?: string } = {}) =>
    orderWithFailedCompensation(db.sql, { items: [{ sku: 'OPS-1', quantity: 1 }], ...overrides });

  async function receiveAll() {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    return Messages.map((message) => JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedProducts(db.sql, { 'OPS-1': { onHand: 100, priceCents: 700 } });
    sqsServer = await startLocalSqs();
    sqs = createLocalSqsClient(sqsServer.endpoint);
    queue = await createQueueWithDlq(sqs, { name: 'ops-routes', visibilityTimeoutSeconds: 30 });
    stepFunctions = await startStepFunctionsEndpoint({ machine });
    sfn = new SFNClient({
      endpoint: stepFunctions.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    sagas = new StepFunctionsSagaStarter(sfn, machine.stateMachineArn);
    handlers = handlersOver(db.sql);
  });

  afterAll(async () => {
    sfn?.destroy();
    await stepFunctions?.close();
    sqs?.destroy();
    await sqsServer?.close();
    await db?.drop();
  });

  describe('GET /v1/admin/orders/{orderId}', () => {
    test('shows any customer order with its timeline oldest first, its compensation and its saga status', async () => {
      const { input, compensationId } = await orderWithCompensation({ customerId: 'someone-else' });
      await machine.startExecution({ name: input.orderId }).result;

      const result = await call('getAdminOrder', { orderId: input.orderId });

      expect(result.statusCode).toBe(200);
      expect(result.json).toMatchObject({
        orderId: input.orderId,
        customerId: 'someone-else',
        status: 'REQUIRES_ATTENTION',
        totalCents: 700,
        compensation: {
          compensationId,
          status: 'PENDING',
          steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS'],
          cancellationReason: 'PAYMENT_FAILED',
        },
        saga: { status: 'FAILED' },
        // What the customer is still owed: the reservation (the payment outcome is the provider's).
        owed: { reservedItems: [{ sku: 'OPS-1', quantity: 1 }], storeCreditCents: 0 },
      });
      expect(result.json.compensation).toHaveProperty('providerState', null);
      const events = result.json.events as { type: string; at: string; detail: Record<string, unknown> }[];
      expect(events.map((event) => event.type)).toEqual(['ORDER_PLACED', 'ORDER_REQUIRES_ATTENTION']);
      expect(events[1]?.detail).toMatchObject({ compensationId });
      expect(Date.parse(events[0]?.at ?? '')).toBeLessThanOrEqual(Date.parse(events[1]?.at ?? ''));
    });

    test('an order whose saga never started: saga NOT_STARTED and compensation null', async () => {
      const input = orderInput({ items: [{ sku: 'OPS-1', quantity: 1 }] });
      await new OrderStore(db.sql).placeOrder(input);

      const result = await call('getAdminOrder', { orderId: input.orderId });

      expect(result.statusCode).toBe(200);
      expect(result.json).toMatchObject({
        status: 'PENDING',
        compensation: null,
        saga: { status: 'NOT_STARTED' },
      });
    });

    test.each([
      randomUUID(),
      'not-a-uuid',
    ])('order %s does not exist: 404 ORDER_NOT_FOUND', async (orderId) => {
      const result = await call('getAdminOrder', { orderId });

      expect(result.statusCode).toBe(404);
      expect(result.json.code).toBe('ORDER_NOT_FOUND');
    });
  });

  describe('POST /v1/admin/compensations/{compensationId}/retry', () => {
    test('queues a failed compensation again with what the worker needs, and marks it PENDING', async () => {
      const { input, compensationId } = await orderWithCompensation();
      await new CompensationStore(db.sql).recordFailure(compensationId, {
        error: 'PaymentProviderError: void failed',
        final: true,
        providerState: null,
      });

      const result = await call('retryCompensation', { compensationId });

      expect(result.statusCode).toBe(202);
      expect(result.json).toEqual({ compensationId, status: 'PENDING' });
      expect(await receiveAll()).toEqual([
        {
          compensationId,
          orderId: input.orderId,
          steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS'],
          cancellationReason: 'PAYMENT_FAILED',
          error: 'PaymentProviderError',
          correlationId: input.correlationId,
        },
      ]);
      expect((await new CompensationStore(db.sql).get(compensationId))?.status).toBe('PENDING');
      // The order's timeline says who asked for the retry (the IAM principal API Gateway authorised).
      const timeline = await new OrderHistoryStore(db.sql).events(input.orderId);
      expect(timeline.at(-1)).toMatchObject({
        type: 'COMPENSATION_RETRY_REQUESTED',
        detail: { compensationId, requestedBy: ADMIN_ARN, previousStatus: 'FAILED' },
      });
    });

    test('a compensation the provider reported on: its providerState is returned as documented', async () => {
      const { input, compensationId } = await orderWithCompensation();
      const providerState = {
        orderId: input.orderId,
        authorizations: [
          {
            authorizationId: 'auth-1',
            status: 'authorized' as const,
            amountCents: 700,
            capturedCents: 0,
            refundedCents: 0,
            captureId: null,
          },
        ],
      };
      await new CompensationStore(db.sql).recordFailure(compensationId, {
        error: 'PaymentProviderError: void failed',
        final: true,
        providerState,
      });

      const result = await call('getAdminOrder', { orderId: input.orderId });

      expect((result.json.compensation as Record<string, unknown>).providerState).toEqual(providerState);
    });

    test('the database lost after the message was sent: 503, the row still FAILED, nothing on the timeline', async () => {
      const { input, compensationId } = await orderWithCompensation();
      await new CompensationStore(db.sql).recordFailure(compensationId, {
        error: 'PaymentProviderError: void failed',
        final: true,
        providerState: null,
      });
      // Reads work, the requeue's write does not: what a failover between the two looks like.
      const failingWrites = new CompensationStore(db.sql);
      failingWrites.markRequeued = async () => {
        throw new DatabaseUnavailableError('connection terminated');
      };
      const through = {
        ...handlers,
        retryCompensation: createRetryCompensationHandler({
          compensations: failingWrites,
          queue: new SqsCompensationQueue(sqs, queue.queueUrl),
        }),
      };

      const result = await call('retryCompensation', { compensationId }, undefined, through);

      expect(result.statusCode).toBe(503);
      // The message went out first: the worker will still run it, and a second retry is safe.
      expect((await receiveAll()).map((message) => message.compensationId)).toEqual([compensationId]);
      expect((await new CompensationStore(db.sql).get(compensationId))?.status).toBe('FAILED');
      const timeline = await new OrderHistoryStore(db.sql).events(input.orderId);
      expect(timeline.map((event) => event.type)).not.toContain('COMPENSATION_RETRY_REQUESTED');
    });

    test('a resolved compensation: 409 COMPENSATION_ALREADY_RESOLVED and nothing queued', async () => {
      const { compensationId } = await orderWithCompensation();
      await new CompensationStore(db.sql).markResolved(compensationId);

      const result = await call('retryCompensation', { compensationId });

      expect(result.statusCode).toBe(409);
      expect(result.json.code).toBe('COMPENSATION_ALREADY_RESOLVED');
      expect(await receiveAll()).toEqual([]);
    });

    test.each([
      'no-such-compensation',
      'x'.repeat(201),
    ])('an unknown compensation id: 404 COMPENSATION_NOT_FOUND', async (compensationId) => {
      const result = await call('retryCompensation', { compensationId });

      expect(result.statusCode).toBe(404);
      expect(result.json.code).toBe('COMPENSATION_NOT_FOUND');
    });
  });

  describe('what both routes share', () => {
    const operations = Object.keys(ROUTES) as Operation[];
    const anyPath = async (operation: Operation): Promise<Record<string, string>> => {
      const { input, compensationId } = await orderWithCompensation();
      return operation === 'getAdminOrder' ? { orderId: input.orderId } : { compensationId };
    };

    test.each(operations)('%s without an IAM identity: 401 UNAUTHORIZED', async (operation) => {
      const result = await call(operation, await anyPath(operation), {});

      expect(result.statusCode).toBe(401);
      expect(result.json.code).toBe('UNAUTHORIZED');
    });

    test.each(
      operations,
    )('%s with a customer token, even the order owner: 403 FORBIDDEN', async (operation) => {
      const result = await call(operation, await anyPath(operation), { customerId: 'customer-1' });

      expect(result.statusCode).toBe(403);
      expect(result.json.code).toBe('FORBIDDEN');
      expect(await receiveAll()).toEqual([]);
    });

    test.each(operations)('%s with the database down: 503 SERVICE_UNAVAILABLE', async (operation) => {
      const path = await anyPath(operation);
      const down = await unreachableSql();
      try {
        const result = await call(operation, path, undefined, handlersOver(down));

        expect(result.statusCode).toBe(503);
        expect(result.json.code).toBe('SERVICE_UNAVAILABLE');
      } finally {
        await down.end({ timeout: 1 });
      }
    });

    test.each(operations)('%s on a database without the schema: 500 INTERNAL_ERROR', async (operation) => {
      const path = await anyPath(operation);
      const bare = await createTestDatabase({ migrate: false });
      try {
        const result = await call(operation, path, undefined, handlersOver(bare.sql));

        expect(result.statusCode).toBe(500);
        expect(result.json.code).toBe('INTERNAL_ERROR');
        expect(result.body).not.toMatch(/does not exist|relation "/);
      } finally {
        await bare.drop();
      }
    });
  });

  test('every status and problem code of the operator routes is produced by a test above', () => {
    expect(coverage.gaps()).toEqual({ missing: [], undeclared: [] });
  });
});
