import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createPlaceOrder, orderIdFor, type PlaceOrderCommand } from '../../src/checkout/place-order.js';
import { OrderStore } from '../../src/db/orders.js';
import { SagaStartError } from '../../src/saga/saga-starter.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts } from '../support/fixtures.js';
import { RecordingSagaStarter } from './support/fakes.js';

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
    await seedProducts(db.sql, { 'UC-1': { onHand: 100, priceCents: 300 }, 'UC-LAST': { onHand: 1 } });
  });

  afterAll(async () => {
    await db?.drop();
  });

  test('a retry finds its order even when the stock it reserved is gone for anyone else', async () => {
    const saga = new RecordingSagaStarter();
    const placeOrder = createPlaceOrder({ orders, sagaStarter: saga });
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
    await createPlaceOrder({ orders, sagaStarter: new RecordingSagaStarter() })(winner);
    // The loser read before the winner committed: its first read saw nothing.
    let reads = 0;
    const lateReader = {
      placeOrder: orders.placeOrder.bind(orders),
      getOrder: (id: string) => (reads++ === 0 ? Promise.resolve(undefined) : orders.getOrder(id)),
    };

    const outcome = await createPlaceOrder({ orders: lateReader, sagaStarter: saga })(winner);

    expect(outcome).toMatchObject({ outcome: 'ACCEPTED', resumed: true, order: { orderId } });
    expect(saga.startsOf(orderId)).toHaveLength(1);
    const [row] = await db.sql<
      { count: number }[]
    >`select count(*)::int as count from orders where id = ${orderId}`;
    expect(row?.count).toBe(1);
  });

  test('an order the saga has already moved on is not started again', async () => {
    const first = command();
    await createPlaceOrder({ orders, sagaStarter: new RecordingSagaStarter() })(first);
    const orderId = orderIdFor(first.customerId, first.idempotencyKey);
    await orders.markAuthorized(orderId, 'auth-1', 'corr');
    const saga = new RecordingSagaStarter();

    const outcome = await createPlaceOrder({ orders, sagaStarter: saga })(first);

    expect(outcome).toMatchObject({ outcome: 'ACCEPTED', resumed: true, order: { status: 'AUTHORIZED' } });
    expect(saga.starts).toEqual([]);
  });

  test('a starter failing with any error is reported as SagaStartError, keeping the cause', async () => {
    const cause = new Error('socket hang up');
    const placeOrder = createPlaceOrder({
      orders,
      sagaStarter: {
        start: () => Promise.reject(cause),
      },
    });

    const attempt = placeOrder(command());

    await expect(attempt).rejects.toBeInstanceOf(SagaStartError);
    await expect(attempt).rejects.toMatchObject({ cause });
  });
});
