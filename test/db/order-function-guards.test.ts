import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import { IllegalTransitionError, OrderNotFoundError } from '../../src/domain/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';

/**
 * The refusals of the order functions that the service's own code never reaches on the happy
 * path: direct calls with arguments OrderStore would not send, unknown orders, and states a
 * transition must not leave from. Each test here fails when `npm run mutate:sql` removes the guard
 * it names (docs/testing.md, "The order functions' guards").
 */
const CORRELATION = 'corr-guards';
const INVALID_PARAMETER_VALUE = '22023';

/** Row counts of everything an order function writes, and the stock and credit it moves. */
async function footprint(sql: Sql) {
  const [row] = await sql`
    select
      (select count(*)::int from orders) as orders,
      (select count(*)::int from order_events) as events,
      (select count(*)::int from outbox_events) as outbox,
      (select count(*)::int from wallet_transactions) as ledger,
      (select count(*)::int from failed_compensations) as failed_compensations,
      (select coalesce(sum(reserved), 0)::int from inventory) as reserved,
      (select coalesce(sum(on_hand), 0)::int from inventory) as on_hand,
      (select coalesce(sum(balance_cents), 0)::int from store_credit_wallets) as credit
  `;
  return row;
}

describe('order function guards', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let counter = 0;

  /** A fresh PENDING order for 2 units of its own SKU at 1000 each. */
  async function pendingOrder(storeCreditCents = 0) {
    counter += 1;
    const sku = `GUARD-${counter}`;
    const customerId = `guards-${counter}`;
    await seedProducts(db.sql, { [sku]: { onHand: 10, priceCents: 1000 } });
    await seedWallet(db.sql, customerId, 5000);
    const input = orderInput({ customerId, storeCreditCents, items: [{ sku, quantity: 2 }] });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(`fixture order not placed: ${placed.outcome}`);
    return { orderId: input.orderId, sku, customerId };
  }

  /** place_order called as the service calls it, with arrays OrderStore's validation never sends. */
  function placeOrderDirectly(skus: string[], quantities: number[], storeCreditCents = 0) {
    return db.sql`
      select place_order(
        ${randomUUID()}::uuid, ${'guards-direct'}, ${'USD'}, ${'pm_card_visa'}, ${storeCreditCents}::bigint,
        ${skus}::text[], ${quantities}::integer[], ${'3600 seconds'}::interval, ${CORRELATION}
      ) as result
    `;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
    await seedProducts(db.sql, { 'DIRECT-A': { onHand: 10, priceCents: 1000 } });
    await seedWallet(db.sql, 'guards-direct', 5000);
  });
  afterAll(async () => {
    expect(violationsOf(await auditDatabase(db.sql))).toEqual([]);
    await db.drop();
  });

  test('place_order refuses an empty cart and SKU and quantity arrays of different lengths, writing nothing', async () => {
    const before = await footprint(db.sql);

    await expect(placeOrderDirectly([], [])).rejects.toMatchObject({ code: INVALID_PARAMETER_VALUE });
    await expect(placeOrderDirectly(['DIRECT-A', 'DIRECT-A'], [1])).rejects.toMatchObject({
      code: INVALID_PARAMETER_VALUE,
    });

    expect(await footprint(db.sql)).toEqual(before);
  });

  test('place_order refuses a zero or negative quantity, even one a positive duplicate line would hide', async () => {
    const before = await footprint(db.sql);

    // Merged, 3 and -2 would be an order of one unit.
    await expect(placeOrderDirectly(['DIRECT-A', 'DIRECT-A'], [3, -2])).rejects.toMatchObject({
      code: INVALID_PARAMETER_VALUE,
    });
    await expect(placeOrderDirectly(['DIRECT-A'], [0])).rejects.toMatchObject({
      code: INVALID_PARAMETER_VALUE,
    });

    expect(await footprint(db.sql)).toEqual(before);
  });

  test('place_order refuses negative store credit, which would raise the charge instead of lowering it', async () => {
    const before = await footprint(db.sql);

    await expect(placeOrderDirectly(['DIRECT-A'], [1], -100)).rejects.toMatchObject({
      code: INVALID_PARAMETER_VALUE,
    });

    expect(await footprint(db.sql)).toEqual(before);
  });

  test('out of stock names every short line of the cart, not only the first, and reserves nothing', async () => {
    await seedProducts(db.sql, {
      'SHORT-X': { onHand: 1 },
      'SHORT-Y': { onHand: 2 },
      'SHORT-Z': { onHand: 9 },
    });
    const before = await footprint(db.sql);

    const result = await orders.placeOrder(
      orderInput({
        items: [
          { sku: 'SHORT-Z', quantity: 1 },
          { sku: 'SHORT-Y', quantity: 3 },
          { sku: 'SHORT-X', quantity: 2 },
        ],
      }),
    );

    expect(result).toEqual({
      outcome: 'OUT_OF_STOCK',
      lines: [
        { sku: 'SHORT-X', requested: 2, available: 1 },
        { sku: 'SHORT-Y', requested: 3, available: 2 },
      ],
    });
    expect(await footprint(db.sql)).toEqual(before);
  });

  test('every transition of an unknown order is OrderNotFoundError and writes nothing', async () => {
    const unknown = randomUUID();
    const before = await footprint(db.sql);

    const attempts = [
      orders.markAuthorized(unknown, 'auth-x', CORRELATION),
      orders.markCaptured(unknown, 'cap-x', CORRELATION),
      orders.recordPaymentOutcome(unknown, 'VOIDED', CORRELATION),
      orders.releaseReservations(unknown, CORRELATION),
      orders.refundStoreCredit(unknown, CORRELATION),
      orders.cancel(unknown, 'PAYMENT_FAILED', CORRELATION),
      orders.fence(unknown, CORRELATION),
      orders.markRequiresAttention({
        orderId: unknown,
        compensationId: `${unknown}:compensation`,
        steps: ['RELEASE_RESERVATIONS'],
        error: 'PaymentProviderTransientError',
        cancellationReason: 'PAYMENT_FAILED',
        correlationId: CORRELATION,
      }),
    ];

    const results = await Promise.allSettled(attempts);
    expect(results.map((r) => r.status === 'rejected' && r.reason instanceof OrderNotFoundError)).toEqual(
      attempts.map(() => true),
    );
    expect(await footprint(db.sql)).toEqual(before);
  });

  test('authorization is refused for an order that needs no card payment and after a decline', async () => {
    const creditOnly = await pendingOrder(2000);
    const declined = await pendingOrder();
    await orders.recordPaymentOutcome(declined.orderId, 'DECLINED', CORRELATION);
    const before = await footprint(db.sql);

    await expect(orders.markAuthorized(creditOnly.orderId, 'auth-free', CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    await expect(orders.markAuthorized(declined.orderId, 'auth-late', CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );

    expect(await footprint(db.sql)).toEqual(before);
    expect(await orders.getOrder(creditOnly.orderId)).toMatchObject({
      status: 'PENDING',
      payment: { status: 'NOT_REQUIRED', authorizationId: null },
    });
    expect(await orders.getOrder(declined.orderId)).toMatchObject({
      status: 'PENDING',
      payment: { status: 'DECLINED', authorizationId: null },
    });
  });

  test('record_payment_outcome refuses any status but DECLINED, VOIDED and REFUNDED: it is no back door to CAPTURED', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-door', CORRELATION);
    const before = await footprint(db.sql);

    await expect(
      db.sql`select record_payment_outcome(${orderId}::uuid, ${'CAPTURED'}, ${CORRELATION}) as result`,
    ).rejects.toMatchObject({ code: INVALID_PARAMETER_VALUE });

    expect(await footprint(db.sql)).toEqual(before);
    expect(await orders.getOrder(orderId)).toMatchObject({ payment: { status: 'AUTHORIZED' } });
  });

  test("a confirmed order's payment is never recorded refunded or voided: a sale stays a sale", async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-sale', CORRELATION);
    await orders.markCaptured(orderId, 'cap-sale', CORRELATION);
    await orders.confirm(orderId, CORRELATION);
    const before = await footprint(db.sql);

    await expect(orders.recordPaymentOutcome(orderId, 'REFUNDED', CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );

    expect(await footprint(db.sql)).toEqual(before);
    expect(await orders.getOrder(orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
  });

  test('an order is not confirmed before its payment is captured: stock stays reserved, not sold', async () => {
    const unpaid = await pendingOrder();
    const authorizedOnly = await pendingOrder();
    await orders.markAuthorized(authorizedOnly.orderId, 'auth-uncaptured', CORRELATION);
    const before = await footprint(db.sql);

    await expect(orders.confirm(unpaid.orderId, CORRELATION)).rejects.toBeInstanceOf(IllegalTransitionError);
    await expect(orders.confirm(unpaid.orderId, CORRELATION)).rejects.toMatchObject({
      transition: 'confirm',
      status: 'PENDING',
      detail: { paymentStatus: 'PENDING' },
    });
    await expect(orders.confirm(authorizedOnly.orderId, CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );

    expect(await footprint(db.sql)).toEqual(before);
    expect(await orders.getOrder(unpaid.orderId)).toMatchObject({ status: 'PENDING' });
    expect(await orders.getOrder(authorizedOnly.orderId)).toMatchObject({ status: 'AUTHORIZED' });
    expect(await new CatalogStore(db.sql).getProduct(unpaid.sku)).toMatchObject({ onHand: 10, reserved: 2 });
  });

  test('refunding the store credit of an order that used none changes nothing and is not an error', async () => {
    const { orderId, customerId } = await pendingOrder(0);
    const before = await footprint(db.sql);

    expect(await orders.refundStoreCredit(orderId, CORRELATION)).toEqual({
      changed: false,
      status: 'PENDING',
    });

    expect(await footprint(db.sql)).toEqual(before);
    expect(await new WalletStore(db.sql).getWallet(customerId)).toMatchObject({ balanceCents: 5000 });
  });

  test('fencing answers whether the order is fenced: yes for one being compensated, no for a sale', async () => {
    const compensating = await pendingOrder();
    const sale = await pendingOrder();
    await orders.markAuthorized(sale.orderId, 'auth-fence-sale', CORRELATION);
    await orders.markCaptured(sale.orderId, 'cap-fence-sale', CORRELATION);
    await orders.confirm(sale.orderId, CORRELATION);

    const fenced = await orders.fence(compensating.orderId, CORRELATION);
    const again = await orders.fence(compensating.orderId, CORRELATION);
    const notFenced = await orders.fence(sale.orderId, CORRELATION);

    expect(fenced).toEqual({ changed: true, status: 'PENDING', fenced: true });
    expect(again).toEqual({ changed: false, status: 'PENDING', fenced: true });
    expect(notFenced).toEqual({ changed: false, status: 'CONFIRMED', fenced: false });
  });

  test('cancel_order refuses a cancellation without a reason', async () => {
    const { orderId } = await pendingOrder();
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION);
    const before = await footprint(db.sql);

    await expect(orders.cancel(orderId, '', CORRELATION)).rejects.toMatchObject({
      code: INVALID_PARAMETER_VALUE,
    });

    expect(await footprint(db.sql)).toEqual(before);
    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'PENDING', cancellationReason: null });
  });
});
