import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPlaceOrder, orderIdFor, type PlaceOrderCommand } from '../../src/checkout/place-order.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts } from '../support/fixtures.js';
import { FailingSagaStarter, RecordingSagaStartBuffer, RecordingSagaStarter } from './support/fakes.js';

describe('orderIdFor', () => {
  test('is a version 5 uuid, the same for the same customer and key', () => {
    const id = orderIdFor('alice', 'key-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(orderIdFor('alice', 'key-1')).toBe(id);
  });

  test('differs for another customer or key, and no separator trick makes two pairs collide', () => {
    const ids = new Set([
      orderIdFor('alice', 'key-1'),
      orderIdFor('bob', 'key-1'),
      orderIdFor('alice', 'key-2'),
      orderIdFor('a:b', 'c'),
      orderIdFor('a', 'b:c'),
      orderIdFor('a","b', 'c'),
      orderIdFor('a', 'b","c'),
    ]);
    expect(ids.size).toBe(7);
  });
});

describe('the place-order use case', () => {
  let db: TestDatabase;
  let orders: OrderStore;

  const command = (overrides: Partial<PlaceOrderCommand> = {}): PlaceOrderCommand => ({
    customerId: `use-case-${randomUUID()}`,
    idempotencyKey: randomUUID(),
    correlationId: randomUUID(),
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 0,
    items: [{ sku: 'UC-1', quantity: 1 }],
    ...overrides,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
    await seedProducts(db.sql, {
      'UC-1': { onHand: 100, priceCents: 300 },
      'UC-2': { onHand: 100 },
      'UC-3': { onHand: 100 },
      'UC-LAST': { onHand: 1 },
    });
  });

  afterAll(async () => {
    await db?.drop();
  });

  test('a retry finds its order even when the stock it reserved is gone for anyone else', async () => {
    const saga = new RecordingSagaStarter();
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: saga,
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    });
    const first = command({ items: [{ sku: 'UC-LAST', quantity: 1 }] });

    const placed = await placeOrder(first);
    const retried = await placeOrder({ ...first, correlationId: 'another-attempt' });

    expect(placed).toMatchObject({ outcome: 'ACCEPTED', resumed: false });
    expect(retried).toMatchObject({ outcome: 'ACCEPTED', resumed: true });
    // Restarted under the order's own correlation id, not the retry's.
    expect(saga.starts.map((start) => start.correlationId)).toEqual([
      first.correlationId,
      first.correlationId,
    ]);
  });

  test('an attempt that loses the race to commit the same order picks up the winner', async () => {
    const saga = new RecordingSagaStarter();
    const winner = command();
    const orderId = orderIdFor(winner.customerId, winner.idempotencyKey);
    await createPlaceOrder({
      orders,
      sagaStarter: new RecordingSagaStarter(),
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(winner);
    // The loser checked before the winner committed: its check saw nothing, and its insert meets
    // the winner's row at the primary key.
    const lateReader = {
      placeOrFindOrder: orders.placeOrder.bind(orders),
      getOrder: orders.getOrder.bind(orders),
    };

    const outcome = await createPlaceOrder({
      orders: lateReader,
      sagaStarter: saga,
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(winner);

    expect(outcome).toMatchObject({ outcome: 'ACCEPTED', resumed: true, order: { orderId } });
    expect(saga.startsOf(orderId)).toHaveLength(1);
    const [row] = await db.sql<
      { count: number }[]
    >`select count(*)::int as count from orders where id = ${orderId}`;
    expect(row?.count).toBe(1);
  });

  test('an order reported placed that then cannot be read is an error, never an answer', async () => {
    const winner = command();
    await createPlaceOrder({
      orders,
      sagaStarter: new RecordingSagaStarter(),
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(winner);
    const saga = new RecordingSagaStarter();

    const outcome = createPlaceOrder({
      orders: { placeOrFindOrder: orders.placeOrder.bind(orders), getOrder: async () => undefined },
      sagaStarter: saga,
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(winner);

    await expect(outcome).rejects.toThrow(/was reported placed but cannot be read/);
    expect(saga.starts).toEqual([]);
  });

  test('an order the saga has already moved on is not started again', async () => {
    const first = command();
    await createPlaceOrder({
      orders,
      sagaStarter: new RecordingSagaStarter(),
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(first);
    const orderId = orderIdFor(first.customerId, first.idempotencyKey);
    await orders.markAuthorized(orderId, 'auth-1', 'corr');
    const saga = new RecordingSagaStarter();

    const outcome = await createPlaceOrder({
      orders,
      sagaStarter: saga,
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    })(first);

    expect(outcome).toMatchObject({
      outcome: 'ACCEPTED',
      resumed: true,
      sagaStart: 'NOT_NEEDED',
      order: { status: 'AUTHORIZED' },
    });
    expect(saga.starts).toEqual([]);
  });

  test('stock stays reserved for the configured time, and for an hour when none is configured', async () => {
    const reservedFor = async (reservationTtlSeconds?: number) => {
      const first = command();
      await createPlaceOrder({
        orders,
        sagaStarter: new RecordingSagaStarter(),
        sagaStartBuffer: new RecordingSagaStartBuffer(),
        ...(reservationTtlSeconds === undefined ? {} : { reservationTtlSeconds }),
      })(first);
      const [row] = await db.sql<{ seconds: number }[]>`
        select round(extract(epoch from expires_at - created_at))::int as seconds
        from reservations where order_id = ${orderIdFor(first.customerId, first.idempotencyKey)}`;
      return row?.seconds;
    };

    expect(await reservedFor(90)).toBe(90);
    expect(await reservedFor()).toBe(3600);
  });

  test.each([
    ['one line fewer', [{ sku: 'UC-1', quantity: 1 }]],
    [
      'one line more',
      [
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-2', quantity: 1 },
        { sku: 'UC-3', quantity: 1 },
      ],
    ],
    [
      'another quantity of the second line',
      [
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-2', quantity: 3 },
      ],
    ],
    [
      'another second line',
      [
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-3', quantity: 2 },
      ],
    ],
  ])('a key reused for a cart with %s is refused as reused, and nothing more is placed', async (_, items) => {
    const saga = new RecordingSagaStarter();
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: saga,
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    });
    const first = command({
      items: [
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-2', quantity: 2 },
      ],
    });
    const orderId = orderIdFor(first.customerId, first.idempotencyKey);
    await placeOrder(first);

    expect(await placeOrder({ ...first, items })).toEqual({ outcome: 'IDEMPOTENCY_KEY_REUSED', orderId });
    expect(saga.startsOf(orderId)).toHaveLength(1);
  });

  test('a key reused for the same cart in another line order, or with a line split in two, picks up its order', async () => {
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: new RecordingSagaStarter(),
      sagaStartBuffer: new RecordingSagaStartBuffer(),
    });
    const first = command({
      items: [
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-2', quantity: 2 },
      ],
    });
    await placeOrder(first);

    for (const items of [
      [
        { sku: 'UC-2', quantity: 2 },
        { sku: 'UC-1', quantity: 1 },
      ],
      [
        { sku: 'UC-2', quantity: 1 },
        { sku: 'UC-1', quantity: 1 },
        { sku: 'UC-2', quantity: 1 },
      ],
    ]) {
      expect(await placeOrder({ ...first, items })).toMatchObject({ outcome: 'ACCEPTED', resumed: true });
    }
  });

  test('a start that fails is handed to the saga-start queue, and the order is accepted all the same', async () => {
    const buffer = new RecordingSagaStartBuffer();
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: new FailingSagaStarter(),
      sagaStartBuffer: buffer,
    });
    const first = command();
    const orderId = orderIdFor(first.customerId, first.idempotencyKey);

    const outcome = await placeOrder(first);

    expect(outcome).toMatchObject({
      outcome: 'ACCEPTED',
      resumed: false,
      sagaStart: 'BUFFERED',
      order: { orderId, status: 'PENDING' },
    });
    expect(buffer.queued).toEqual([{ orderId, correlationId: first.correlationId, chargeCents: 300 }]);
  });

  test('when the queue cannot be written either, the order is still accepted and left to the sweeper', async () => {
    const buffer = new RecordingSagaStartBuffer(true);
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: new FailingSagaStarter(),
      sagaStartBuffer: buffer,
    });
    const first = command();

    const outcome = await placeOrder(first);

    expect(outcome).toMatchObject({
      outcome: 'ACCEPTED',
      sagaStart: 'DEFERRED',
      order: { status: 'PENDING' },
    });
    expect(buffer.attempts).toBe(1);
  });

  test('a start that succeeds never touches the queue', async () => {
    const buffer = new RecordingSagaStartBuffer();
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: new RecordingSagaStarter(),
      sagaStartBuffer: buffer,
    });

    const outcome = await placeOrder(command());

    expect(outcome).toMatchObject({ outcome: 'ACCEPTED', sagaStart: 'STARTED' });
    expect(buffer.attempts).toBe(0);
  });
});
