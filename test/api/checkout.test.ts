import { createHash, randomUUID } from 'node:crypto';
import { IdempotencyKeyError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createCheckoutHandler } from '../../lambdas/api/checkout.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  createStringKeyTable,
  createTable,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import type { CheckoutDependencies } from '../../src/api/checkout.js';
import {
  CHECKOUT_SWITCH,
  OPERATOR_CONTROLS_KEY,
  OPERATOR_CONTROLS_SORT_KEY,
  parametersCheckoutSwitch,
  SWITCH_VALUE_ATTRIBUTE,
  SWITCHES_PARTITION,
} from '../../src/api/checkout-switch.js';
import { CustomerLimiter, LIMITS_KEY_ATTRIBUTE } from '../../src/api/customer-limits.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import { CHECKOUT_IDEMPOTENCY_KEY_PREFIX, createCheckoutIdempotency } from '../../src/api/idempotency.js';
import { powertoolsCheckoutMetrics } from '../../src/api/metrics.js';
import { orderIdFor } from '../../src/checkout/place-order.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts, seedWallet } from '../support/fixtures.js';
import { createRouteCoverage } from './support/coverage.js';
import { clearTable, emfMetrics, quietMetrics, unreachableSql } from './support/environment.js';
import { apiEvent, invoke } from './support/events.js';
import {
  FailingSagaStarter,
  RecordingCheckoutMetrics,
  RecordingSagaStartBuffer,
  RecordingSagaStarter,
} from './support/fakes.js';

const TABLE = 'checkout-idempotency';
const LIMITS_TABLE = 'checkout-customer-limits';
const CONTROLS_TABLE = 'checkout-operator-controls';
const coverage = createRouteCoverage(['placeOrder']);

interface CheckoutCall {
  readonly customerId?: string | undefined;
  readonly key?: string | undefined;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

describe('POST /v1/checkout', () => {
  let db: TestDatabase;
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let orders: OrderStore;
  let saga: RecordingSagaStarter;
  let buffer: RecordingSagaStartBuffer;
  let metrics: RecordingCheckoutMetrics;
  let handler: ApiGatewayHandler;

  function dependencies(overrides: Partial<CheckoutDependencies> = {}): CheckoutDependencies {
    return {
      orders,
      sagaStarter: saga,
      sagaStartBuffer: buffer,
      idempotency: createCheckoutIdempotency({ client, tableName: TABLE }),
      ...overrides,
    };
  }

  function handlerWith(overrides: Partial<CheckoutDependencies> = {}): ApiGatewayHandler {
    return createCheckoutHandler(dependencies(overrides), {
      metrics: quietMetrics(),
      checkoutMetrics: metrics,
    });
  }

  function checkout(call: CheckoutCall, through: ApiGatewayHandler = handler) {
    const headers: Record<string, string> = { ...call.headers };
    if (call.key !== undefined) headers['Idempotency-Key'] = call.key;
    const event = apiEvent({
      method: 'POST',
      resource: '/v1/checkout',
      body: call.body ?? cart(),
      headers,
      ...(call.customerId === undefined ? {} : { customerId: call.customerId }),
    });
    return invoke(through, event).then((result) => coverage.record('placeOrder', result));
  }

  function cart(overrides: Record<string, unknown> = {}) {
    return {
      items: [{ sku: 'API-1', quantity: 2 }],
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      storeCreditCents: 0,
      ...overrides,
    };
  }

  async function ordersOf(customerId: string): Promise<number> {
    const [row] = await db.sql<{ count: number }[]>`
      select count(*)::int as count from orders where customer_id = ${customerId}
    `;
    return row?.count ?? 0;
  }

  const customer = () => `customer-${randomUUID()}`;

  /**
   * The idempotency record of a customer's key, read by the id Powertools gives it: the prefix and
   * the sha256 of the key members (`[customerId, idempotencyKey]`).
   */
  async function recordOf(customerId: string, key: string) {
    const { Item } = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { id: { S: recordIdOf(customerId, key) } } }),
    );
    return Item;
  }

  function recordIdOf(customerId: string, key: string): string {
    const hash = createHash('sha256')
      .update(JSON.stringify([customerId, key]))
      .digest('base64');
    return `${CHECKOUT_IDEMPOTENCY_KEY_PREFIX}#${hash}`;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
    await createStringKeyTable(client, LIMITS_TABLE, LIMITS_KEY_ATTRIBUTE);
    await createTable(
      client,
      CONTROLS_TABLE,
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, KeyType: 'HASH' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, KeyType: 'RANGE' },
      ],
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, AttributeType: 'S' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, AttributeType: 'S' },
      ],
    );
    orders = new OrderStore(db.sql);
    saga = new RecordingSagaStarter();
    buffer = new RecordingSagaStartBuffer();
    metrics = new RecordingCheckoutMetrics();
    handler = handlerWith();
    await seedProducts(db.sql, {
      'API-1': { onHand: 1000, priceCents: 1250 },
      'API-2': { onHand: 1000, priceCents: 500 },
      'API-EUR': { onHand: 10, priceCents: 900, currency: 'EUR' },
      'API-EUR-2': { onHand: 10, priceCents: 900, currency: 'EUR' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
    await db?.drop();
  });

  describe('accepting an order', () => {
    test('answers 202 with the priced order, a Location and the echoed correlation id, and starts its saga', async () => {
      const customerId = customer();
      const key = randomUUID();

      const result = await checkout({
        customerId,
        key,
        body: cart({
          items: [
            { sku: 'API-2', quantity: 1 },
            { sku: 'API-1', quantity: 2 },
            { sku: 'API-2', quantity: 3 },
          ],
        }),
        headers: { 'x-correlation-id': 'corr-accept-1' },
      });

      const orderId = orderIdFor(customerId, key);
      expect(result.statusCode).toBe(202);
      expect(result.headers['Content-Type']).toBe('application/json');
      expect(result.headers.Location).toBe(`/v1/orders/${orderId}`);
      expect(result.headers['X-Correlation-Id']).toBe('corr-accept-1');
      expect(result.json).toEqual({
        orderId,
        status: 'PENDING',
        totalCents: 2 * 1250 + 4 * 500,
        storeCreditCents: 0,
        chargeCents: 4500,
        currency: 'USD',
      });
      expect(saga.startsOf(orderId)).toEqual([
        { orderId, correlationId: 'corr-accept-1', chargeCents: 4500 },
      ]);
      const order = await orders.getOrder(orderId);
      expect(order).toMatchObject({ customerId, status: 'PENDING', correlationId: 'corr-accept-1' });
      expect(order?.items.map((item) => [item.sku, item.quantity])).toEqual([
        ['API-1', 2],
        ['API-2', 4],
      ]);
      expect(metrics.events.at(-1)).toBe('accepted');
    });

    test('generates a correlation id when the client sends none, and uses it for the order and the saga', async () => {
      const customerId = customer();

      const result = await checkout({ customerId, key: randomUUID() });

      const correlationId = result.headers['X-Correlation-Id'];
      expect(result.statusCode).toBe(202);
      expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
      const orderId = result.json.orderId as string;
      expect(saga.startsOf(orderId)[0]?.correlationId).toBe(correlationId);
      expect((await orders.getOrder(orderId))?.correlationId).toBe(correlationId);
    });

    test('an order paid fully by store credit is accepted with nothing to charge', async () => {
      const customerId = customer();
      await seedWallet(db.sql, customerId, 10_000);

      const result = await checkout({
        customerId,
        key: randomUUID(),
        body: cart({ storeCreditCents: 2500 }),
      });

      expect(result.statusCode).toBe(202);
      expect(result.json).toMatchObject({ totalCents: 2500, storeCreditCents: 2500, chargeCents: 0 });
      expect(saga.startsOf(result.json.orderId as string)[0]?.chargeCents).toBe(0);
    });

    test("the stock of an accepted order is held for the deployment's reservation time", async () => {
      const customerId = customer();
      const key = randomUUID();

      await checkout({ customerId, key }, handlerWith({ reservationTtlSeconds: 120 }));

      const [row] = await db.sql<{ seconds: number }[]>`
        select round(extract(epoch from expires_at - created_at))::int as seconds
        from reservations where order_id = ${orderIdFor(customerId, key)}`;
      expect(row?.seconds).toBe(120);
    });

    test('storeCreditCents may be left out and counts as 0', async () => {
      const { storeCreditCents: _, ...body } = cart();
      const result = await checkout({ customerId: customer(), key: randomUUID(), body });
      expect(result.statusCode).toBe(202);
      expect(result.json.storeCreditCents).toBe(0);
    });
  });

  describe('idempotency', () => {
    test('the same key and body replay the first response byte for byte and place one order', async () => {
      const customerId = customer();
      const key = randomUUID();

      const first = await checkout({ customerId, key });
      const second = await checkout({ customerId, key, headers: { 'X-Correlation-Id': 'corr-retry' } });

      expect(second.statusCode).toBe(first.statusCode);
      expect(second.body).toBe(first.body);
      expect(second.headers.Location).toBe(first.headers.Location);
      expect(second.headers['Idempotent-Replayed']).toBe('true');
      expect(first.headers['Idempotent-Replayed']).toBeUndefined();
      expect(second.headers['X-Correlation-Id']).toBe('corr-retry');
      expect(await ordersOf(customerId)).toBe(1);
      expect(saga.startsOf(first.json.orderId as string)).toHaveLength(1);
      expect(metrics.events.at(-1)).toBe('replayed');
    });

    test('member order and whitespace of the body do not make it a different request', async () => {
      const customerId = customer();
      const key = randomUUID();
      const first = await checkout({ customerId, key, body: JSON.stringify(cart()) });

      const reordered = `{ "storeCreditCents": 0, "paymentMethod": "pm_card_visa",
        "currency": "USD", "items": [ { "quantity": 2, "sku": "API-1" } ] }`;
      const second = await checkout({ customerId, key, body: reordered });

      expect(second.statusCode).toBe(202);
      expect(second.body).toBe(first.body);
      expect(await ordersOf(customerId)).toBe(1);
    });

    test('the same key with a different body is refused with 422 IDEMPOTENCY_KEY_REUSED', async () => {
      const customerId = customer();
      const key = randomUUID();
      // A handler of its own, so the idempotency configuration under test is built in this test
      // (docs/testing.md, "Mutation testing").
      const own = handlerWith();
      await checkout({ customerId, key }, own);

      const result = await checkout(
        {
          customerId,
          key,
          body: cart({ items: [{ sku: 'API-1', quantity: 3 }] }),
        },
        own,
      );

      expect(result.statusCode).toBe(422);
      expect(result.headers['Content-Type']).toBe('application/problem+json');
      expect(result.json).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
      expect(await ordersOf(customerId)).toBe(1);
      expect(metrics.events.at(-1)).toBe('rejected:IDEMPOTENCY_KEY_REUSED');
    });

    test('a payload with neither key member is refused, never run without idempotency', async () => {
      const { persistenceStore, config, keyPrefix } = createCheckoutIdempotency({ client, tableName: TABLE });
      let runs = 0;
      const unit = makeIdempotent(
        async (_payload: Record<string, unknown>) => {
          runs += 1;
          return { statusCode: 202 };
        },
        { persistenceStore, config, keyPrefix },
      );

      await expect(unit({ request: cart() })).rejects.toMatchObject({
        cause: expect.any(IdempotencyKeyError),
      });
      expect(runs).toBe(0);
    });

    test('keys are scoped to the customer: two customers using one key get an order each', async () => {
      const key = randomUUID();
      const alice = customer();
      const bob = customer();

      const first = await checkout({ customerId: alice, key });
      const second = await checkout({ customerId: bob, key });

      expect(first.statusCode).toBe(202);
      expect(second.statusCode).toBe(202);
      expect(second.json.orderId).not.toBe(first.json.orderId);
      expect(await ordersOf(alice)).toBe(1);
      expect(await ordersOf(bob)).toBe(1);
    });

    test('20 concurrent requests with one key place exactly one order; the others replay it or are told it is in flight', async () => {
      const customerId = customer();
      const key = randomUUID();
      const slowSaga = new RecordingSagaStarter();
      const release = slowSaga.hold();
      const slow = handlerWith({ sagaStarter: slowSaga });
      setTimeout(() => release(), 300);

      const results = await Promise.all(
        Array.from({ length: 20 }, () => checkout({ customerId, key }, slow)),
      );

      expect(await ordersOf(customerId)).toBe(1);
      expect(slowSaga.starts).toHaveLength(1);
      const accepted = results.filter((result) => result.statusCode === 202);
      const inFlight = results.filter((result) => result.statusCode === 409);
      expect(accepted.length + inFlight.length).toBe(20);
      expect(accepted.length).toBeGreaterThanOrEqual(1);
      expect(new Set(accepted.map((result) => result.body)).size).toBe(1);
      for (const result of inFlight) {
        expect(result.json.code).toBe('IDEMPOTENCY_KEY_IN_USE');
        expect(result.headers['Retry-After']).toBe('1');
      }
      // Once the first has finished, a retry replays it.
      const retry = await checkout({ customerId, key }, slow);
      expect(retry.body).toBe(accepted[0]?.body);
    });

    test('a duplicate arriving while the first request is in flight gets 409 IDEMPOTENCY_KEY_IN_USE with Retry-After', async () => {
      const customerId = customer();
      const key = randomUUID();
      const heldSaga = new RecordingSagaStarter();
      const release = heldSaga.hold();
      const held = handlerWith({ sagaStarter: heldSaga });

      const first = checkout({ customerId, key }, held);
      await vi.waitFor(() => expect(heldSaga.starts).toHaveLength(1));
      const duplicate = await checkout({ customerId, key }, held);
      release();

      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.headers['Retry-After']).toBe('1');
      expect(duplicate.json).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
      expect((await first).statusCode).toBe(202);
      expect(await ordersOf(customerId)).toBe(1);
    });

    test("the in-progress lock of a request ends with its invocation's time, not the record's 24 hours", async () => {
      const customerId = customer();
      const key = randomUUID();
      const heldSaga = new RecordingSagaStarter();
      const release = heldSaga.hold();
      const before = Date.now();

      // The shared invoke gives every invocation 10 s.
      const first = checkout({ customerId, key }, handlerWith({ sagaStarter: heldSaga }));
      await vi.waitFor(() => expect(heldSaga.starts).toHaveLength(1));
      const lock = await recordOf(customerId, key);
      release();
      await first;

      expect(lock?.status?.S).toBe('INPROGRESS');
      const lockEnds = Number(lock?.in_progress_expiration?.N);
      expect(lockEnds).toBeGreaterThanOrEqual(before + 10_000 - 1_000);
      expect(lockEnds).toBeLessThanOrEqual(Date.now() + 10_000);
    });

    test('a copy whose key record goes before it reads it (its first attempt gave up meanwhile): 503 with Retry-After, and the retry answers', async () => {
      const customerId = customer();
      const key = randomUUID();
      const heldSaga = new RecordingSagaStarter();
      const release = heldSaga.hold();
      // DynamoDB hands the record back with the refused write; the stand-in does not, so Powertools
      // reads it, and here the first attempt's record is deleted (as its failure deletes it) just
      // before that read.
      const copyClient = createLocalDynamoDbClient(dynamo.endpoint);
      copyClient.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'GetItemCommand') {
            await client.send(
              new DeleteItemCommand({ TableName: TABLE, Key: { id: { S: recordIdOf(customerId, key) } } }),
            );
          }
          return next(args);
        },
        { step: 'initialize', name: 'firstAttemptGivesUpItsRecord' },
      );

      const first = checkout({ customerId, key }, handlerWith({ sagaStarter: heldSaga }));
      await vi.waitFor(() => expect(heldSaga.starts).toHaveLength(1));
      const copy = await checkout(
        { customerId, key },
        handlerWith({ idempotency: createCheckoutIdempotency({ client: copyClient, tableName: TABLE }) }),
      );
      release();
      await first;
      copyClient.destroy();
      const retry = await checkout({ customerId, key });

      expect(copy.statusCode).toBe(503);
      expect(copy.headers['Retry-After']).toBe('2');
      expect(copy.json).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(retry.statusCode).toBe(202);
      expect(retry.json).toMatchObject({ orderId: orderIdFor(customerId, key) });
      expect(await ordersOf(customerId)).toBe(1);
    });

    test('records are kept for 24 hours, under a key scoped to the customer', async () => {
      const customerId = customer();
      const key = randomUUID();
      const before = Math.floor(Date.now() / 1000);
      // A handler of its own, as above.
      await checkout({ customerId, key }, handlerWith());

      const record = await recordOf(customerId, key);

      expect(record?.status?.S).toBe('COMPLETED');
      expect(record?.data?.M?.body?.S).toContain(orderIdFor(customerId, key));
      const expiration = Number(record?.expiration?.N);
      expect(expiration).toBeGreaterThanOrEqual(before + 86_400);
      expect(expiration).toBeLessThanOrEqual(before + 86_400 + 60);
    });

    test('when the idempotency record is gone, a retry finds the order the key placed instead of placing another', async () => {
      const customerId = customer();
      const key = randomUUID();
      const first = await checkout({ customerId, key });
      await clearTable(client, TABLE);

      const retry = await checkout({ customerId, key });
      await clearTable(client, TABLE);
      const reusedForOtherCart = await checkout({
        customerId,
        key,
        body: cart({ items: [{ sku: 'API-2', quantity: 9 }] }),
      });

      expect(retry.statusCode).toBe(202);
      expect(retry.body).toBe(first.body);
      expect(reusedForOtherCart.statusCode).toBe(422);
      expect(reusedForOtherCart.json.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await ordersOf(customerId)).toBe(1);
    });

    test('with the idempotency record gone, a key reused for any other amount or payment is refused, never answered with its order', async () => {
      const customerId = customer();
      const key = randomUUID();
      const first = await checkout({ customerId, key });
      const variants = {
        quantity: cart({ items: [{ sku: 'API-1', quantity: 3 }] }),
        extraLine: cart({
          items: [
            { sku: 'API-1', quantity: 2 },
            { sku: 'API-2', quantity: 1 },
          ],
        }),
        otherSkuSameQuantity: cart({ items: [{ sku: 'API-2', quantity: 2 }] }),
        storeCredit: cart({ storeCreditCents: 100 }),
        paymentMethod: cart({ paymentMethod: 'pm_card_declined' }),
        currency: cart({ currency: 'EUR' }),
      };

      const answers: Record<string, unknown> = {};
      for (const [name, body] of Object.entries(variants)) {
        await clearTable(client, TABLE);
        const reused = await checkout({ customerId, key, body });
        answers[name] = `${reused.statusCode} ${reused.json.code}`;
      }

      expect(first.statusCode).toBe(202);
      expect(answers).toEqual(
        Object.fromEntries(Object.keys(variants).map((name) => [name, '422 IDEMPOTENCY_KEY_REUSED'])),
      );
      await clearTable(client, TABLE);
      expect((await checkout({ customerId, key, body: variants.quantity })).json.detail).toBe(
        'This Idempotency-Key already placed an order with different contents. Use a new key for a new request.',
      );
      expect(await ordersOf(customerId)).toBe(1);
    });
  });

  describe('business outcomes are answered and replayed', () => {
    test('out of stock is 409 with the short lines, and is replayed on retry even after restocking', async () => {
      const customerId = customer();
      const key = randomUUID();
      const sku = `SHORT-${randomUUID().slice(0, 8)}`;
      const other = `SHORT-${randomUUID().slice(0, 8)}`;
      await seedProducts(db.sql, { [sku]: { onHand: 1 }, [other]: { onHand: 0 } });
      const body = cart({
        items: [
          { sku, quantity: 3 },
          { sku: other, quantity: 1 },
        ],
      });

      const first = await checkout({ customerId, key, body });
      for (const restocked of [sku, other]) {
        await new CatalogStore(db.sql).upsertProduct(restocked, {
          name: 'restocked',
          priceCents: 1000,
          currency: 'USD',
          onHand: 50,
        });
      }
      const retry = await checkout({ customerId, key, body });
      const withNewKey = await checkout({ customerId, key: randomUUID(), body });

      expect(first.statusCode).toBe(409);
      expect(first.headers['Content-Type']).toBe('application/problem+json');
      expect(first.json).toMatchObject({
        type: 'urn:problem:checkout:out-of-stock',
        status: 409,
        code: 'OUT_OF_STOCK',
        detail: `Not enough stock of ${[sku, other].sort().join(', ')}.`,
        skus: [sku, other].sort(),
        lines: expect.arrayContaining([
          { sku, requested: 3, available: 1 },
          { sku: other, requested: 1, available: 0 },
        ]),
      });
      expect(retry.statusCode).toBe(409);
      expect(retry.body).toBe(first.body);
      expect(retry.headers['Idempotent-Replayed']).toBe('true');
      expect(withNewKey.statusCode).toBe(202);
      expect(await ordersOf(customerId)).toBe(1);
      expect(metrics.events).toContain('rejected:OUT_OF_STOCK');
    });

    test('an unknown SKU is 404 UNKNOWN_SKU naming it', async () => {
      const customerId = customer();
      const result = await checkout({
        customerId,
        key: randomUUID(),
        body: cart({
          items: [
            { sku: 'API-1', quantity: 1 },
            { sku: 'NOPE-1', quantity: 1 },
            { sku: 'NOPE-2', quantity: 1 },
          ],
        }),
      });
      expect(result.statusCode).toBe(404);
      expect(result.json).toMatchObject({
        code: 'UNKNOWN_SKU',
        detail: 'No product with SKU NOPE-1, NOPE-2.',
        skus: ['NOPE-1', 'NOPE-2'],
      });
      expect(await ordersOf(customerId)).toBe(0);
    });

    test('a cart in a currency the products are not priced in is 422 CURRENCY_MISMATCH', async () => {
      const customerId = customer();
      const result = await checkout({
        customerId,
        key: randomUUID(),
        body: cart({
          items: [
            { sku: 'API-EUR', quantity: 1 },
            { sku: 'API-EUR-2', quantity: 1 },
          ],
        }),
      });
      expect(result.statusCode).toBe(422);
      expect(result.json).toMatchObject({
        code: 'CURRENCY_MISMATCH',
        detail: 'Products API-EUR, API-EUR-2 are not priced in the requested currency.',
        skus: ['API-EUR', 'API-EUR-2'],
      });
      expect(await ordersOf(customerId)).toBe(0);
    });

    test('store credit above the order total is 422 STORE_CREDIT_EXCEEDS_TOTAL', async () => {
      const customerId = customer();
      await seedWallet(db.sql, customerId, 1_000_000);
      const result = await checkout({
        customerId,
        key: randomUUID(),
        body: cart({ storeCreditCents: 2501 }),
      });
      expect(result.statusCode).toBe(422);
      expect(result.json).toMatchObject({
        code: 'STORE_CREDIT_EXCEEDS_TOTAL',
        detail: 'storeCreditCents must not exceed the order total of 2500.',
        totalCents: 2500,
      });
      expect(await ordersOf(customerId)).toBe(0);
    });

    test('store credit above the wallet balance is 409 INSUFFICIENT_STORE_CREDIT', async () => {
      const customerId = customer();
      await seedWallet(db.sql, customerId, 100);
      const result = await checkout({ customerId, key: randomUUID(), body: cart({ storeCreditCents: 200 }) });
      expect(result.statusCode).toBe(409);
      expect(result.json).toMatchObject({
        code: 'INSUFFICIENT_STORE_CREDIT',
        detail: 'The store-credit balance of 100 does not cover storeCreditCents.',
        balanceCents: 100,
      });
      expect(await ordersOf(customerId)).toBe(0);
    });
  });

  describe("the operators' checkout switch (docs/adr/0024)", () => {
    async function setSwitch(value: 'on' | 'off') {
      await client.send(
        new PutItemCommand({
          TableName: CONTROLS_TABLE,
          Item: {
            [OPERATOR_CONTROLS_KEY]: { S: SWITCHES_PARTITION },
            [OPERATOR_CONTROLS_SORT_KEY]: { S: CHECKOUT_SWITCH },
            [SWITCH_VALUE_ATTRIBUTE]: { S: value },
          },
        }),
      );
    }

    test('off: 503 CHECKOUT_PAUSED with Retry-After; no order, no idempotency record, no unit of the limit spent', async () => {
      const customerId = customer();
      await setSwitch('off');
      const limiter = new CustomerLimiter({
        client,
        tableName: LIMITS_TABLE,
        limits: { checkoutsPerMinute: 1 },
      });
      const paused = handlerWith({
        limiter,
        checkoutSwitch: parametersCheckoutSwitch({ client, tableName: CONTROLS_TABLE, maxAgeSeconds: 0 }),
      });
      try {
        const results = [];
        for (let attempt = 0; attempt < 3; attempt++) {
          results.push(await checkout({ customerId, key: 'paused-1' }, paused));
        }

        for (const result of results) {
          expect(result.statusCode).toBe(503);
          expect(result.json).toMatchObject({ status: 503, code: 'CHECKOUT_PAUSED' });
          expect(result.headers['Retry-After']).toBe('30');
        }
        expect(await ordersOf(customerId)).toBe(0);
        expect(await recordOf(customerId, 'paused-1')).toBeUndefined();

        // Back on: the same key places the order (not a replay), and the limit of one is still whole.
        await setSwitch('on');
        const resumed = await checkout({ customerId, key: 'paused-1' }, paused);
        expect(resumed.statusCode).toBe(202);
        expect(resumed.headers['Idempotent-Replayed']).toBeUndefined();
        expect(await ordersOf(customerId)).toBe(1);
      } finally {
        await setSwitch('on');
      }
    });

    test('a stop reaches a container within its cache age, and a switch it cannot read keeps the last value', async () => {
      const customerId = customer();
      const cached = parametersCheckoutSwitch({ client, tableName: CONTROLS_TABLE, maxAgeSeconds: 60 });
      const unreadable = parametersCheckoutSwitch({ client, tableName: 'no-such-table', maxAgeSeconds: 0 });
      await setSwitch('on');
      try {
        expect(await cached.isPaused()).toBe(false);
        await setSwitch('off');
        // Within the cache age the container still sees the value it read.
        expect(await cached.isPaused()).toBe(false);
        const fresh = parametersCheckoutSwitch({ client, tableName: CONTROLS_TABLE, maxAgeSeconds: 0 });
        expect(await fresh.isPaused()).toBe(true);
        // A table that cannot be read never stops checkout by itself.
        const result = await checkout(
          { customerId, key: 'unreadable' },
          handlerWith({ checkoutSwitch: unreadable }),
        );
        expect(result.statusCode).toBe(202);
      } finally {
        await setSwitch('on');
      }
    });

    test('without customer claims the switch is not read: 401 UNAUTHORIZED', async () => {
      await setSwitch('off');
      try {
        const result = await checkout(
          { key: randomUUID() },
          handlerWith({
            checkoutSwitch: parametersCheckoutSwitch({ client, tableName: CONTROLS_TABLE, maxAgeSeconds: 0 }),
          }),
        );
        expect(result.statusCode).toBe(401);
      } finally {
        await setSwitch('on');
      }
    });
  });

  describe('refused requests', () => {
    test("over the customer's checkouts per minute: 429 RATE_LIMITED with Retry-After, before the key is even read", async () => {
      const customerId = customer();
      const limited = handlerWith({
        limiter: new CustomerLimiter({ client, tableName: LIMITS_TABLE, limits: { checkoutsPerMinute: 2 } }),
      });
      for (const key of ['limit-1', 'limit-2']) {
        expect((await checkout({ customerId, key }, limited)).statusCode).toBe(202);
      }

      const result = await checkout({ customerId, key: 'limit-3' }, limited);

      expect(result.statusCode).toBe(429);
      expect(result.headers['Content-Type']).toBe('application/problem+json');
      expect(result.json).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(result.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(await ordersOf(customerId)).toBe(2);
      expect(await recordOf(customerId, 'limit-3')).toBeUndefined();
      expect(metrics.events.at(-1)).toBe('rejected:RATE_LIMITED');
    });

    test('without customer claims: 401 UNAUTHORIZED', async () => {
      const result = await checkout({ key: randomUUID() });
      expect(result.statusCode).toBe(401);
      expect(result.json).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      expect(metrics.events.at(-1)).toBe('rejected:UNAUTHORIZED');
    });

    test.each([
      ['missing', undefined],
      ['empty', ''],
      ['256 characters long', 'k'.repeat(256)],
      ['not ASCII', 'ключ-1'],
      ['with a control character', 'key\u0000one'],
    ])('an Idempotency-Key that is %s: 400 IDEMPOTENCY_KEY_REQUIRED', async (_, key) => {
      const customerId = customer();
      const result = await checkout({ customerId, key });
      expect(result.statusCode).toBe(400);
      expect(result.json).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REQUIRED',
        detail: 'Send an Idempotency-Key header of 1-255 printable ASCII characters, e.g. a uuid.',
      });
      expect(await ordersOf(customerId)).toBe(0);
    });

    test('a key of exactly 255 characters is accepted', async () => {
      const result = await checkout({ customerId: customer(), key: 'k'.repeat(255) });
      expect(result.statusCode).toBe(202);
    });

    test('field errors are listed with JSON Pointer paths: 400 VALIDATION_FAILED', async () => {
      const result = await checkout({
        customerId: customer(),
        key: randomUUID(),
        body: {
          items: [
            { sku: 'API-1', quantity: 0 },
            { sku: 'bad sku', quantity: 1, price: 1 },
          ],
          currency: 'XYZ',
          paymentMethod: 'visa',
          storeCreditCents: -1,
          totalCents: 1,
        },
      });
      expect(result.statusCode).toBe(400);
      expect(result.json).toMatchObject({
        type: 'urn:problem:checkout:validation-failed',
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      const paths = (result.json.errors as { path: string }[]).map((error) => error.path).sort();
      expect(paths).toEqual([
        '/currency',
        '/items/0/quantity',
        '/items/1/price',
        '/items/1/sku',
        '/paymentMethod',
        '/storeCreditCents',
        '/totalCents',
      ]);
      expect(metrics.events.at(-1)).toBe('rejected:VALIDATION_FAILED');
    });

    test('field errors say in English what was expected and what was received', async () => {
      const result = await checkout({
        customerId: customer(),
        key: randomUUID(),
        body: {
          items: [
            { sku: 'API-1', quantity: 1.5 },
            { sku: 'API-1', quantity: 101 },
          ],
          paymentMethod: '',
        },
      });

      expect(result.statusCode).toBe(400);
      expect(result.json.errors).toEqual([
        { path: '/items/0/quantity', message: 'Invalid input: expected int, received number' },
        { path: '/items/1/quantity', message: 'Too big: expected number to be <=100' },
        { path: '/currency', message: 'must be one of USD, EUR, GBP, CAD, AUD' },
        { path: '/paymentMethod', message: 'Too small: expected string to have >=1 characters' },
        { path: '/paymentMethod', message: 'must look like pm_<lowercase letters, digits, _>' },
      ]);
    });

    test('a body above 64 KB: 413 PAYLOAD_TOO_LARGE', async () => {
      const result = await checkout({
        customerId: customer(),
        key: randomUUID(),
        body: JSON.stringify({ ...cart(), padding: 'x'.repeat(65 * 1024) }),
      });
      expect(result.statusCode).toBe(413);
      expect(result.json).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    });

    test('a body that is not declared as JSON: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const result = await checkout({
        customerId: customer(),
        key: randomUUID(),
        headers: { 'Content-Type': 'text/plain' },
      });
      expect(result.statusCode).toBe(415);
      expect(result.json).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    });
  });

  describe('transient failures are not stored', () => {
    test('with the database down the answer is 503 SERVICE_UNAVAILABLE, and a retry after recovery runs again', async () => {
      const customerId = customer();
      const key = randomUUID();
      const down = await unreachableSql();

      const failed = await checkout({ customerId, key }, handlerWith({ orders: new OrderStore(down) }));
      const recordAfterFailure = await recordOf(customerId, key);
      const retried = await checkout({ customerId, key });
      await down.end({ timeout: 1 });

      expect(failed.statusCode).toBe(503);
      expect(failed.headers['Retry-After']).toBe('2');
      expect(failed.json).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(failed.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
      expect(recordAfterFailure).toBeUndefined();
      expect((await recordOf(customerId, key))?.status?.S).toBe('COMPLETED');
      expect(retried.statusCode).toBe(202);
      expect(retried.headers['Idempotent-Replayed']).toBeUndefined();
      expect(await ordersOf(customerId)).toBe(1);
    });

    test('when the saga cannot be started: 202 all the same, the start is queued, and the same key replays the 202', async () => {
      const customerId = customer();
      const key = randomUUID();
      const failing = new FailingSagaStarter();
      const queued = new RecordingSagaStartBuffer();
      const throttled = handlerWith({ sagaStarter: failing, sagaStartBuffer: queued });

      const accepted = await checkout(
        { customerId, key, headers: { 'X-Correlation-Id': 'corr-saga-1' } },
        throttled,
      );
      const orderId = orderIdFor(customerId, key);
      const replayed = await checkout({ customerId, key, headers: { 'X-Correlation-Id': 'corr-saga-2' } });

      expect(accepted.statusCode).toBe(202);
      expect(accepted.json).toMatchObject({ orderId, status: 'PENDING' });
      expect(failing.attempts).toBe(1);
      expect(queued.queued).toEqual([{ orderId, correlationId: 'corr-saga-1', chargeCents: 2500 }]);
      expect(replayed.statusCode).toBe(202);
      expect(replayed.body).toBe(accepted.body);
      expect(replayed.headers['Idempotent-Replayed']).toBe('true');
      expect((await recordOf(customerId, key))?.status?.S).toBe('COMPLETED');
      expect(await ordersOf(customerId)).toBe(1);
      // The replay starts nothing: the queued start is the saga's one way in.
      expect(saga.startsOf(orderId)).toEqual([]);
      expect(metrics.events.slice(-2)).toEqual(['accepted', 'replayed']);
    });

    test('when neither the saga nor its queue can be reached: still 202, the order left to the sweeper', async () => {
      const customerId = customer();
      const key = randomUUID();
      const unreachable = new RecordingSagaStartBuffer(true);

      const accepted = await checkout(
        { customerId, key },
        handlerWith({ sagaStarter: new FailingSagaStarter(), sagaStartBuffer: unreachable }),
      );

      expect(accepted.statusCode).toBe(202);
      expect(unreachable.attempts).toBe(1);
      expect(await orders.getOrder(orderIdFor(customerId, key))).toMatchObject({ status: 'PENDING' });
      expect((await recordOf(customerId, key))?.status?.S).toBe('COMPLETED');
    });

    test('with the idempotency table unreachable: 503 SERVICE_UNAVAILABLE and nothing written', async () => {
      const customerId = customer();
      const brokenClient = createLocalDynamoDbClient('http://127.0.0.1:1');
      const broken = handlerWith({
        idempotency: createCheckoutIdempotency({ client: brokenClient, tableName: TABLE }),
      });

      const result = await checkout({ customerId, key: randomUUID() }, broken);
      brokenClient.destroy();

      expect(result.statusCode).toBe(503);
      expect(result.json).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(await ordersOf(customerId)).toBe(0);
    });

    test('an unexpected error is 500 INTERNAL_ERROR with a generic detail and nothing of the error', async () => {
      const bare = await createTestDatabase({ migrate: false });
      try {
        const result = await checkout(
          { customerId: customer(), key: randomUUID() },
          handlerWith({ orders: new OrderStore(bare.sql) }),
        );
        expect(result.statusCode).toBe(500);
        expect(Object.keys(result.json)).toEqual(['type', 'title', 'status', 'detail', 'code']);
        expect(result.json).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
        expect(result.body).not.toMatch(/order_snapshot|function|does not exist|at .*\.ts/);
      } finally {
        await bare.drop();
      }
    });
  });

  describe('observability', () => {
    test('accepted, rejected (by code) and replayed checkouts are published as EMF metrics', async () => {
      const lines: string[] = [];
      const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
      const emf = emfMetrics();
      const instrumented = createCheckoutHandler(dependencies(), {
        metrics: emf,
        checkoutMetrics: powertoolsCheckoutMetrics(emf),
      });
      const customerId = customer();
      const key = randomUUID();
      try {
        await checkout({ customerId, key }, instrumented);
        await checkout({ customerId, key }, instrumented);
        await checkout({ customerId, key: randomUUID(), body: cart({ currency: 'XXX' }) }, instrumented);
      } finally {
        write.mockRestore();
      }

      const blobs = lines
        .flatMap((chunk) => chunk.split('\n'))
        .filter((line) => line.includes('"_aws"'))
        .map(
          (line) =>
            JSON.parse(line) as Record<string, unknown> & {
              _aws: { CloudWatchMetrics: [{ Dimensions: string[][] }] };
            },
        );
      expect(blobs.map((blob) => Object.keys(blob).find((k) => k.startsWith('Checkout')))).toEqual([
        'CheckoutAccepted',
        'CheckoutReplayed',
        'CheckoutRejected',
      ]);
      const rejected = blobs[2];
      expect(rejected?.code).toBe('VALIDATION_FAILED');
      expect(rejected?._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'code']]);
    });
  });

  test('every status and problem code of the route is produced by a test above', () => {
    expect(coverage.gaps()).toEqual({ missing: [], undeclared: [] });
  });
});
