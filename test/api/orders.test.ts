import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGetOrderHandler } from '../../lambdas/api/orders.js';
import {
  createLocalDynamoDbClient,
  createStringKeyTable,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { CustomerLimiter, LIMITS_KEY_ATTRIBUTE } from '../../src/api/customer-limits.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts } from '../support/fixtures.js';
import { createRouteCoverage } from './support/coverage.js';
import { unreachableSql } from './support/environment.js';
import { apiEvent, invoke } from './support/events.js';

const coverage = createRouteCoverage(['getOrder']);

describe('GET /v1/orders/{orderId}', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let handler: ApiGatewayHandler;

  function getOrder(orderId: string, customerId?: string, through: ApiGatewayHandler = handler) {
    const event = apiEvent({
      method: 'GET',
      resource: '/v1/orders/{orderId}',
      pathParameters: { orderId },
      ...(customerId === undefined ? {} : { customerId }),
    });
    return invoke(through, event).then((result) => coverage.record('getOrder', result));
  }

  async function placedOrder(customerId: string): Promise<string> {
    const input = orderInput({ customerId, items: [{ sku: 'READ-1', quantity: 2 }] });
    const result = await orders.placeOrder(input);
    if (result.outcome !== 'PLACED') throw new Error(`could not place: ${result.outcome}`);
    return input.orderId;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
    handler = createGetOrderHandler({ orders });
    await seedProducts(db.sql, { 'READ-1': { onHand: 100, priceCents: 700 } });
  });

  afterAll(async () => {
    await db?.drop();
  });

  test('the owner reads the order with its status, items, amounts and payment', async () => {
    const orderId = await placedOrder('reader-1');

    const result = await getOrder(orderId, 'reader-1');

    expect(result.statusCode).toBe(200);
    expect(result.headers['Content-Type']).toBe('application/json');
    expect(result.json).toEqual({
      orderId,
      status: 'PENDING',
      items: [{ sku: 'READ-1', quantity: 2, unitPriceCents: 700 }],
      totalCents: 1400,
      storeCreditCents: 0,
      chargeCents: 1400,
      currency: 'USD',
      payment: { status: 'PENDING' },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  test('a cancelled order shows its reason and the authorization it had', async () => {
    const orderId = await placedOrder('reader-2');
    await orders.markAuthorized(orderId, 'auth-123', 'corr');
    await orders.recordPaymentOutcome(orderId, 'VOIDED', 'corr');
    await orders.releaseReservations(orderId, 'corr');
    await orders.cancel(orderId, 'PAYMENT_VOIDED', 'corr');

    const result = await getOrder(orderId, 'reader-2');

    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_VOIDED',
      payment: { status: 'VOIDED', authorizationId: 'auth-123' },
    });
  });

  test("another customer's order is 404 ORDER_NOT_FOUND, answered exactly like a missing one", async () => {
    const orderId = await placedOrder('owner-3');

    const foreign = await getOrder(orderId, 'intruder-3');
    const missing = await getOrder(randomUUID(), 'intruder-3');

    expect(foreign.statusCode).toBe(404);
    expect(foreign.json).toMatchObject({ status: 404, code: 'ORDER_NOT_FOUND' });
    expect(foreign.body).toBe(missing.body);
    expect(foreign.body).not.toContain('owner-3');
  });

  test.each([
    'not-a-uuid',
    '1',
    "1' or '1'='1",
    `${randomUUID()}x`,
    '00000000-0000-0000-0000-00000000000g',
  ])('a malformed order id (%s) is 404 ORDER_NOT_FOUND', async (orderId) => {
    const result = await getOrder(orderId, 'reader-4');
    expect(result.statusCode).toBe(404);
    expect(result.json.code).toBe('ORDER_NOT_FOUND');
  });

  test('without customer claims: 401 UNAUTHORIZED', async () => {
    const orderId = await placedOrder('reader-5');
    const result = await getOrder(orderId);
    expect(result.statusCode).toBe(401);
    expect(result.json.code).toBe('UNAUTHORIZED');
  });

  test('with the database down: 503 SERVICE_UNAVAILABLE with Retry-After', async () => {
    const down = await unreachableSql();
    try {
      const result = await getOrder(
        randomUUID(),
        'reader-6',
        createGetOrderHandler({ orders: new OrderStore(down) }),
      );
      expect(result.statusCode).toBe(503);
      expect(result.headers['Retry-After']).toBe('2');
      expect(result.json.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await down.end({ timeout: 1 });
    }
  });

  test('an unexpected database error: 500 INTERNAL_ERROR without its message', async () => {
    const bare = await createTestDatabase({ migrate: false });
    try {
      const result = await getOrder(
        randomUUID(),
        'reader-7',
        createGetOrderHandler({ orders: new OrderStore(bare.sql) }),
      );
      expect(result.statusCode).toBe(500);
      expect(result.json.code).toBe('INTERNAL_ERROR');
      expect(result.body).not.toMatch(/order_snapshot|does not exist/);
    } finally {
      await bare.drop();
    }
  });

  test("over the customer's requests per minute: 429 RATE_LIMITED with Retry-After, the order not read", async () => {
    const dynamo = await startLocalDynamoDb();
    const client = createLocalDynamoDbClient(dynamo.endpoint);
    try {
      await createStringKeyTable(client, 'limits', LIMITS_KEY_ATTRIBUTE);
      const orderId = await placedOrder('reader-limited');
      const reads: string[] = [];
      const limited = createGetOrderHandler({
        orders: {
          getOrder: (id) => {
            reads.push(id);
            return orders.getOrder(id);
          },
        },
        limiter: new CustomerLimiter({ client, tableName: 'limits', limits: { requestsPerMinute: 1 } }),
      });
      expect((await getOrder(orderId, 'reader-limited', limited)).statusCode).toBe(200);

      const result = await getOrder(orderId, 'reader-limited', limited);

      expect(result.statusCode).toBe(429);
      expect(result.json).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(result.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(reads).toEqual([orderId]);
    } finally {
      client.destroy();
      await dynamo.close();
    }
  });

  test('every status and problem code of the route is produced by a test above', () => {
    expect(coverage.gaps()).toEqual({ missing: [], undeclared: [] });
  });
});
