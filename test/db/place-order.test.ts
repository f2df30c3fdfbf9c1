import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import { waitUntil } from '../../bench/lib/load.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';
import { stampedeSuite } from '../support/race-suites.js';

describe('placeOrder', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let catalog: CatalogStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
    catalog = new CatalogStore(db.sql);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('stock taken by another checkout after the unlocked check is refused OUT_OF_STOCK with its lines, nothing written', async () => {
    await seedProducts(db.sql, { 'RACE-LAST': { onHand: 1, priceCents: 500 } });
    const placer = createSql(db.url, { max: 1, applicationName: 'race-placer' });
    const rival = createSql(db.url, { max: 1 });
    const input = orderInput({ items: [{ sku: 'RACE-LAST', quantity: 1 }] });
    let placing: ReturnType<OrderStore['placeOrder']> | undefined;
    try {
      // A rival checkout holds the last unit's row, not yet committed: the unlocked check still sees
      // it available, and the reservation waits for the row. Then the rival commits.
      await rival.begin(async (tx) => {
        await tx`update inventory set reserved = reserved + 1 where sku = 'RACE-LAST'`;
        placing = new OrderStore(placer).placeOrder(input);
        const waited = await waitUntil(
          async () => {
            const [waiting] = await db.sql<{ n: number }[]>`
              select count(*)::int as n from pg_stat_activity
              where application_name = 'race-placer' and wait_event_type = 'Lock'`;
            return (waiting?.n ?? 0) > 0;
          },
          { timeoutMs: 10_000, intervalMs: 20 },
        );
        if (!waited) throw new Error('the placement never waited for the row');
      });

      expect(await placing).toEqual({
        outcome: 'OUT_OF_STOCK',
        lines: [{ sku: 'RACE-LAST', requested: 1, available: 0 }],
      });
      const [written] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from orders where id = ${input.orderId}`;
      expect(written?.n).toBe(0);
      expect(await catalog.getProduct('RACE-LAST')).toMatchObject({ onHand: 1, reserved: 1 });
    } finally {
      await Promise.allSettled([placing]);
      await Promise.all([placer.end(), rival.end()]);
    }
  });

  test('prices from the database, merges duplicate lines and reserves the stock', async () => {
    await seedProducts(db.sql, {
      'MERGE-A': { onHand: 10, priceCents: 250 },
      'MERGE-B': { onHand: 5, priceCents: 1000 },
    });

    const result = await orders.placeOrder(
      orderInput({
        items: [
          { sku: 'MERGE-B', quantity: 1 },
          { sku: 'MERGE-A', quantity: 2 },
          { sku: 'MERGE-A', quantity: 3 },
        ],
      }),
    );

    expect(result.outcome).toBe('PLACED');
    if (result.outcome !== 'PLACED') return;
    expect(result.order).toMatchObject({
      status: 'PENDING',
      totalCents: 5 * 250 + 1000,
      chargeCents: 5 * 250 + 1000,
      storeCreditCents: 0,
      items: [
        { sku: 'MERGE-A', quantity: 5, unitPriceCents: 250 },
        { sku: 'MERGE-B', quantity: 1, unitPriceCents: 1000 },
      ],
      payment: { status: 'PENDING', authorizationId: null },
    });
    expect(await catalog.getProduct('MERGE-A')).toMatchObject({ onHand: 10, reserved: 5, available: 5 });
    const events = await db.sql`select type from order_events where order_id = ${result.order.orderId}`;
    const outbox = await db.sql`select type from outbox_events where aggregate_id = ${result.order.orderId}`;
    expect(events.map((e) => e.type)).toEqual(['ORDER_PLACED']);
    expect(outbox.map((e) => e.type)).toEqual(['order.placed']);
  });

  test('unknown SKUs are a typed result and nothing is written', async () => {
    await seedProducts(db.sql, { 'KNOWN-1': { onHand: 3 } });
    const input = orderInput({
      items: [
        { sku: 'KNOWN-1', quantity: 1 },
        { sku: 'NOPE-1', quantity: 1 },
      ],
    });

    const result = await orders.placeOrder(input);

    expect(result).toEqual({ outcome: 'UNKNOWN_SKU', skus: ['NOPE-1'] });
    expect(await orders.getOrder(input.orderId)).toBeUndefined();
    expect(await catalog.getProduct('KNOWN-1')).toMatchObject({ reserved: 0 });
  });

  test('out of stock names the short lines and reserves nothing', async () => {
    await seedProducts(db.sql, { 'SHORT-A': { onHand: 1 }, 'SHORT-B': { onHand: 10 } });

    const result = await orders.placeOrder(
      orderInput({
        items: [
          { sku: 'SHORT-A', quantity: 2 },
          { sku: 'SHORT-B', quantity: 1 },
        ],
      }),
    );

    expect(result).toEqual({
      outcome: 'OUT_OF_STOCK',
      lines: [{ sku: 'SHORT-A', requested: 2, available: 1 }],
    });
    expect(await catalog.getProduct('SHORT-B')).toMatchObject({ reserved: 0 });
  });

  test('a cart in another currency than the catalog is refused', async () => {
    await seedProducts(db.sql, { 'EUR-1': { onHand: 3, currency: 'EUR' } });

    const result = await orders.placeOrder(orderInput({ items: [{ sku: 'EUR-1', quantity: 1 }] }));

    expect(result).toEqual({ outcome: 'CURRENCY_MISMATCH', skus: ['EUR-1'] });
  });

  test('store credit is debited through the ledger and the card is charged the rest', async () => {
    await seedProducts(db.sql, { 'CREDIT-1': { onHand: 3, priceCents: 1500 } });
    await seedWallet(db.sql, 'credit-customer', 1000);

    const result = await orders.placeOrder(
      orderInput({
        customerId: 'credit-customer',
        storeCreditCents: 400,
        items: [{ sku: 'CREDIT-1', quantity: 1 }],
      }),
    );

    expect(result.outcome).toBe('PLACED');
    if (result.outcome !== 'PLACED') return;
    expect(result.order).toMatchObject({ totalCents: 1500, storeCreditCents: 400, chargeCents: 1100 });
    expect(await new WalletStore(db.sql).getWallet('credit-customer')).toEqual({
      customerId: 'credit-customer',
      balanceCents: 600,
    });
  });

  test('an order paid fully by store credit needs no card payment', async () => {
    await seedProducts(db.sql, { 'CREDIT-2': { onHand: 3, priceCents: 300 } });
    await seedWallet(db.sql, 'rich-customer', 300);

    const result = await orders.placeOrder(
      orderInput({
        customerId: 'rich-customer',
        storeCreditCents: 300,
        items: [{ sku: 'CREDIT-2', quantity: 1 }],
      }),
    );

    expect(result.outcome === 'PLACED' && result.order.payment.status).toBe('NOT_REQUIRED');
  });

  test('insufficient store credit and credit above the total are typed results', async () => {
    await seedProducts(db.sql, { 'CREDIT-3': { onHand: 3, priceCents: 500 } });
    await seedWallet(db.sql, 'poor-customer', 100);

    const insufficient = await orders.placeOrder(
      orderInput({
        customerId: 'poor-customer',
        storeCreditCents: 200,
        items: [{ sku: 'CREDIT-3', quantity: 1 }],
      }),
    );
    const aboveTotal = await orders.placeOrder(
      orderInput({
        customerId: 'poor-customer',
        storeCreditCents: 501,
        items: [{ sku: 'CREDIT-3', quantity: 1 }],
      }),
    );

    expect(insufficient).toEqual({ outcome: 'INSUFFICIENT_STORE_CREDIT', balanceCents: 100 });
    expect(aboveTotal).toEqual({ outcome: 'STORE_CREDIT_EXCEEDS_TOTAL', totalCents: 500 });
    expect(await catalog.getProduct('CREDIT-3')).toMatchObject({ reserved: 0 });
  });

  test('reusing an order id is refused whole (ALREADY_PLACED), leaving the first order untouched', async () => {
    await seedProducts(db.sql, { 'DUP-1': { onHand: 5 } });
    const input = orderInput({ items: [{ sku: 'DUP-1', quantity: 1 }] });
    await orders.placeOrder(input);

    expect(await orders.placeOrder(input)).toEqual({ outcome: 'ALREADY_PLACED' });

    expect(await catalog.getProduct('DUP-1')).toMatchObject({ reserved: 1 });
  });

  test('uses one round trip whatever the cart size, with no query per line', async () => {
    const skus = Array.from({ length: 50 }, (_, i) => `RT-${String(i).padStart(2, '0')}`);
    await seedProducts(db.sql, Object.fromEntries(skus.map((sku) => [sku, { onHand: 100 }])));
    const sent: string[] = [];
    const counted = createSql(db.url, { max: 1, debug: (_connection, query) => sent.push(query) });
    const countedOrders = new OrderStore(counted);
    // A new connection first asks for the server's array types, once; count orders, not that.
    await counted`select 1`;

    const roundTrips: Record<number, number> = {};
    for (const size of [1, 10, 50]) {
      sent.length = 0;
      const result = await countedOrders.placeOrder(
        orderInput({ items: skus.slice(0, size).map((sku) => ({ sku, quantity: 1 })) }),
      );
      expect(result.outcome).toBe('PLACED');
      roundTrips[size] = sent.length;
    }
    await counted.end();

    expect(roundTrips).toEqual({ 1: 1, 10: 1, 50: 1 });
  });
});

describe('placeOrder under concurrency', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ pool: { max: 20 } });
  });
  afterAll(async () => {
    await db.drop();
  });

  test('opposite lock orders on the same SKUs never deadlock', async () => {
    await seedProducts(db.sql, {
      'LOCK-A': { onHand: 1000 },
      'LOCK-B': { onHand: 1000 },
      'LOCK-C': { onHand: 1000 },
    });
    const orders = new OrderStore(db.sql);
    const forward = [
      { sku: 'LOCK-A', quantity: 1 },
      { sku: 'LOCK-B', quantity: 1 },
      { sku: 'LOCK-C', quantity: 1 },
    ];
    const backward = [...forward].reverse();

    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        orders.placeOrder(orderInput({ items: i % 2 ? forward : backward })),
      ),
    );

    expect(results.every((r) => r.outcome === 'PLACED')).toBe(true);
    const product = await new CatalogStore(db.sql).getProduct('LOCK-B');
    expect(product).toMatchObject({ onHand: 1000, reserved: 120 });
    expect(violationsOf(await auditDatabase(db.sql))).toEqual([]);
  });
});

describe('directly on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });
  stampedeSuite('direct', () => db.url);
});
