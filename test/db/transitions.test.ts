import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import {
  CompensationIncompleteError,
  IllegalTransitionError,
  OrderFencedError,
  OrderNotFoundError,
  ReservationReleasedError,
} from '../../src/domain/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';

const CORRELATION = 'corr-transitions';

/** Everything a transition can change, to compare "applied once" with "applied twice". */
async function snapshot(sql: Sql, orderId: string) {
  const [state] = await sql`
    select
      (select row_to_json(o) from (select status, cancellation_reason from orders where id = ${orderId}) o) as order,
      (select row_to_json(p) from (select status, authorization_id from payments where order_id = ${orderId}) p) as payment,
      (select json_agg(r order by sku) from (select sku, status from reservations where order_id = ${orderId}) r) as reservations,
      (select json_agg(i order by sku) from (select sku, on_hand, reserved from inventory) i) as inventory,
      (select json_agg(w order by customer_id) from (select customer_id, balance_cents from store_credit_wallets) w) as wallets,
      (select count(*)::int from wallet_transactions) as ledger_entries,
      (select count(*)::int from order_events where order_id = ${orderId}) as events,
      (select count(*)::int from outbox_events where aggregate_id = ${orderId}) as outbox
  `;
  return state;
}

describe('order state transitions', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let counter = 0;

  /** A fresh PENDING order for 2 units of its own SKU, paid partly with store credit. */
  async function pendingOrder(options: { storeCreditCents?: number; priceCents?: number } = {}) {
    counter += 1;
    const sku = `TR-${counter}`;
    const customerId = `transitions-${counter}`;
    await seedProducts(db.sql, { [sku]: { onHand: 10, priceCents: options.priceCents ?? 1000 } });
    await seedWallet(db.sql, customerId, 5000);
    const input = orderInput({
      customerId,
      storeCreditCents: options.storeCreditCents ?? 500,
      items: [{ sku, quantity: 2 }],
    });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(`fixture order not placed: ${placed.outcome}`);
    return { orderId: input.orderId, sku, customerId };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
  });
  afterAll(async () => {
    expect(violationsOf(await auditDatabase(db.sql))).toEqual([]);
    await db.drop();
  });

  /** Applies a transition twice and proves the second call changed nothing. */
  async function expectIdempotent(orderId: string, apply: () => Promise<{ changed: boolean }>) {
    const first = await apply();
    const afterFirst = await snapshot(db.sql, orderId);
    const second = await apply();
    const afterSecond = await snapshot(db.sql, orderId);
    expect(first.changed).toBe(true);
    expect(second.changed).toBe(false);
    expect(afterSecond).toEqual(afterFirst);
  }

  test('happy path: authorize, capture and confirm commit the stock, each safe to repeat', async () => {
    const { orderId, sku } = await pendingOrder();

    await expectIdempotent(orderId, () => orders.markAuthorized(orderId, 'auth-1', CORRELATION));
    await expectIdempotent(orderId, () => orders.markCaptured(orderId, 'cap-1', CORRELATION));
    await expectIdempotent(orderId, () => orders.confirm(orderId, CORRELATION));

    const order = await orders.getOrder(orderId);
    expect(order).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED', authorizationId: 'auth-1' },
    });
    expect(await new CatalogStore(db.sql).getProduct(sku)).toMatchObject({ onHand: 8, reserved: 0 });
    const outbox =
      await db.sql`select type from outbox_events where aggregate_id = ${orderId} order by created_at`;
    expect(outbox.map((e) => e.type)).toEqual(['order.placed', 'order.confirmed']);
  });

  test('an order paid fully by store credit confirms straight from PENDING', async () => {
    const { orderId } = await pendingOrder({ storeCreditCents: 2000, priceCents: 1000 });

    await expectIdempotent(orderId, () => orders.confirm(orderId, CORRELATION));

    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'CONFIRMED', chargeCents: 0 });
  });

  test('compensation: void, release, refund and cancel, each safe to repeat', async () => {
    const { orderId, sku, customerId } = await pendingOrder({ storeCreditCents: 700 });
    await orders.markAuthorized(orderId, 'auth-2', CORRELATION);

    await expectIdempotent(orderId, () => orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION));
    await expectIdempotent(orderId, () => orders.releaseReservations(orderId, CORRELATION));
    await expectIdempotent(orderId, () => orders.refundStoreCredit(orderId, CORRELATION));
    await expectIdempotent(orderId, () => orders.cancel(orderId, 'PAYMENT_CAPTURE_FAILED', CORRELATION));

    expect(await orders.getOrder(orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'VOIDED' },
    });
    expect(await new CatalogStore(db.sql).getProduct(sku)).toMatchObject({ onHand: 10, reserved: 0 });
    expect(await new WalletStore(db.sql).getWallet(customerId)).toMatchObject({ balanceCents: 5000 });
  });

  test('a declined payment, then compensation, ends cancelled', async () => {
    const { orderId } = await pendingOrder();

    await expectIdempotent(orderId, () => orders.recordPaymentOutcome(orderId, 'DECLINED', CORRELATION));
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.refundStoreCredit(orderId, CORRELATION);
    await orders.cancel(orderId, 'PAYMENT_DECLINED', CORRELATION);

    expect(await orders.getOrder(orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'DECLINED' },
    });
  });

  test('a captured payment is refunded before the order can be cancelled', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-3', CORRELATION);
    await orders.markCaptured(orderId, 'cap-3', CORRELATION);
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.refundStoreCredit(orderId, CORRELATION);

    await expect(orders.cancel(orderId, 'CONFIRM_FAILED', CORRELATION)).rejects.toMatchObject({
      name: 'CompensationIncompleteError',
      outstanding: ['PAYMENT_NOT_REVERSED'],
    });
    await expect(orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    await expectIdempotent(orderId, () => orders.recordPaymentOutcome(orderId, 'REFUNDED', CORRELATION));
    await orders.cancel(orderId, 'CONFIRM_FAILED', CORRELATION);

    expect(await orders.getOrder(orderId)).toMatchObject({
      status: 'CANCELLED',
      payment: { status: 'REFUNDED' },
    });
  });

  test('cancel is refused while stock is held or credit not refunded', async () => {
    const { orderId } = await pendingOrder({ storeCreditCents: 300 });

    const attempt = orders.cancel(orderId, 'TOO_EARLY', CORRELATION);

    await expect(attempt).rejects.toBeInstanceOf(CompensationIncompleteError);
    await expect(attempt).rejects.toMatchObject({
      outstanding: ['RESERVATIONS_HELD', 'STORE_CREDIT_NOT_REFUNDED'],
    });
    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'PENDING' });
  });

  test('requires-attention records the failed compensation once and can still end cancelled', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-4', CORRELATION);
    const failure = {
      orderId,
      compensationId: `${orderId}:compensation`,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
      error: 'PaymentProviderTransientError',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      correlationId: CORRELATION,
    };

    await expectIdempotent(orderId, () => orders.markRequiresAttention(failure));
    const rows = await db.sql`
      select status, steps, cancellation_reason from failed_compensations where order_id = ${orderId}
    `;
    expect(rows).toEqual([
      { status: 'PENDING', steps: failure.steps, cancellation_reason: 'PAYMENT_CAPTURE_FAILED' },
    ]);

    await orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION);
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.refundStoreCredit(orderId, CORRELATION);
    await orders.cancel(orderId, 'PAYMENT_CAPTURE_FAILED', CORRELATION);
    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'CANCELLED' });
  });

  test('a cancelled order is fenced: authorizing, recording a capture or confirming it is refused and changes nothing', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-5', CORRELATION);
    await orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION);
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.refundStoreCredit(orderId, CORRELATION);
    await orders.cancel(orderId, 'PAYMENT_CAPTURE_FAILED', CORRELATION);
    const before = await snapshot(db.sql, orderId);

    await expect(orders.confirm(orderId, CORRELATION)).rejects.toBeInstanceOf(OrderFencedError);
    await expect(orders.markAuthorized(orderId, 'auth-5', CORRELATION)).rejects.toThrow(
      /cannot mark authorized order .* in status CANCELLED/,
    );
    await expect(orders.markCaptured(orderId, 'cap-5', CORRELATION)).rejects.toBeInstanceOf(OrderFencedError);

    expect(await snapshot(db.sql, orderId)).toEqual(before);
    expect(await orders.getOrder(orderId)).toMatchObject({ fenced: true });
  });

  test('requires-attention on an order the compensation worker already cancelled is a no-op that keeps the audit row', async () => {
    const { orderId } = await pendingOrder();
    await orders.recordPaymentOutcome(orderId, 'VOIDED', CORRELATION);
    await orders.releaseReservations(orderId, CORRELATION);
    await orders.refundStoreCredit(orderId, CORRELATION);
    await orders.cancel(orderId, 'PAYMENT_CAPTURE_FAILED', CORRELATION);
    const failure = {
      orderId,
      compensationId: `${orderId}:compensation`,
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
      error: 'PaymentProviderTransientError',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      correlationId: CORRELATION,
    };
    const before = await snapshot(db.sql, orderId);

    const first = await orders.markRequiresAttention(failure);
    const again = await orders.markRequiresAttention(failure);

    expect(first).toEqual({ changed: false, status: 'CANCELLED' });
    expect(again).toEqual({ changed: false, status: 'CANCELLED' });
    expect(await snapshot(db.sql, orderId)).toEqual(before);
    const rows = await db.sql`
      select status, steps, resolved_at is not null as resolved from failed_compensations where order_id = ${orderId}
    `;
    expect(rows).toEqual([{ status: 'RESOLVED', steps: failure.steps, resolved: true }]);
  });

  test('requires-attention is refused on a confirmed order', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-5c', CORRELATION);
    await orders.markCaptured(orderId, 'cap-5c', CORRELATION);
    await orders.confirm(orderId, CORRELATION);
    const before = await snapshot(db.sql, orderId);

    await expect(
      orders.markRequiresAttention({
        orderId,
        compensationId: 'x',
        steps: [],
        error: 'e',
        cancellationReason: 'LATE',
        correlationId: CORRELATION,
      }),
    ).rejects.toBeInstanceOf(IllegalTransitionError);

    expect(await snapshot(db.sql, orderId)).toEqual(before);
  });

  test('the fence: once compensation fenced an order, nothing authorizes, records a capture or confirms it', async () => {
    const authorizing = await pendingOrder();
    const capturing = await pendingOrder();
    await orders.markAuthorized(capturing.orderId, 'auth-f2', CORRELATION);
    const creditOnly = await pendingOrder({ storeCreditCents: 2000, priceCents: 1000 });

    for (const { orderId } of [authorizing, capturing, creditOnly]) {
      await expectIdempotent(orderId, () => orders.fence(orderId, CORRELATION));
    }
    const before = await Promise.all(
      [authorizing, capturing, creditOnly].map(({ orderId }) => snapshot(db.sql, orderId)),
    );

    await expect(orders.markAuthorized(authorizing.orderId, 'auth-f1', CORRELATION)).rejects.toBeInstanceOf(
      OrderFencedError,
    );
    await expect(orders.markCaptured(capturing.orderId, 'cap-f2', CORRELATION)).rejects.toBeInstanceOf(
      OrderFencedError,
    );
    await expect(orders.confirm(creditOnly.orderId, CORRELATION)).rejects.toBeInstanceOf(OrderFencedError);

    const after = await Promise.all(
      [authorizing, capturing, creditOnly].map(({ orderId }) => snapshot(db.sql, orderId)),
    );
    expect(after).toEqual(before);
    expect(await orders.getOrder(authorizing.orderId)).toMatchObject({ status: 'PENDING', fenced: true });
    const events = await db.sql`
      select type from order_events where order_id = ${capturing.orderId} order by created_at
    `;
    expect(events.map((e) => e.type)).toEqual(['ORDER_PLACED', 'PAYMENT_AUTHORIZED', 'ORDER_FENCED']);
  });

  test('the fence leaves alone what was recorded before it: compensation reverses those', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-f3', CORRELATION);
    await orders.markCaptured(orderId, 'cap-f3', CORRELATION);
    await orders.fence(orderId, CORRELATION);

    // A retry of a step whose record made it before the fence: nothing new, nothing refused.
    expect(await orders.markCaptured(orderId, 'cap-f3', CORRELATION)).toEqual({
      changed: false,
      status: 'AUTHORIZED',
    });
    await expect(orders.confirm(orderId, CORRELATION)).rejects.toBeInstanceOf(OrderFencedError);
  });

  test('an order confirmed before the fence stays a sale: the fence answers it unfenced and changes nothing', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-f4', CORRELATION);
    await orders.markCaptured(orderId, 'cap-f4', CORRELATION);
    await orders.confirm(orderId, CORRELATION);
    const before = await snapshot(db.sql, orderId);

    expect(await orders.fence(orderId, CORRELATION)).toEqual({
      changed: false,
      status: 'CONFIRMED',
      fenced: false,
    });

    expect(await snapshot(db.sql, orderId)).toEqual(before);
    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'CONFIRMED', fenced: false });
  });

  test('a fenced refusal reads as ILLEGAL_TRANSITION to the release still running, with the fence marked for the new one', async () => {
    const { orderId } = await pendingOrder();
    await orders.fence(orderId, CORRELATION);

    const [row] = await db.sql`select mark_authorized(${orderId}::uuid, 'auth-f5', ${CORRELATION}) as result`;

    expect(row?.result).toEqual({
      outcome: 'ILLEGAL_TRANSITION',
      status: 'PENDING',
      paymentStatus: 'PENDING',
      fenced: true,
    });
  });

  test('a confirmed order cannot be compensated', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-6', CORRELATION);
    await orders.markCaptured(orderId, 'cap-6', CORRELATION);
    await orders.confirm(orderId, CORRELATION);

    await expect(orders.releaseReservations(orderId, CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    await expect(orders.refundStoreCredit(orderId, CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    await expect(orders.cancel(orderId, 'LATE', CORRELATION)).rejects.toBeInstanceOf(IllegalTransitionError);
  });

  test('a refused transition names itself in its error, as operators read it in the audit trail', async () => {
    const transitionOf = (attempt: Promise<unknown>) =>
      attempt.then(
        () => 'applied',
        (error: IllegalTransitionError) => `${error.name}: ${error.transition}`,
      );
    const confirmed = await pendingOrder();
    await orders.markAuthorized(confirmed.orderId, 'auth-names', CORRELATION);
    await orders.captureAndConfirm(confirmed.orderId, 'cap-names', CORRELATION);
    const pending = await pendingOrder();

    const names = {
      capture: await transitionOf(orders.markCaptured(pending.orderId, 'cap-x', CORRELATION)),
      captureAndConfirm: await transitionOf(orders.captureAndConfirm(pending.orderId, 'cap-x', CORRELATION)),
      outcome: await transitionOf(orders.recordPaymentOutcome(confirmed.orderId, 'VOIDED', CORRELATION)),
      release: await transitionOf(orders.releaseReservations(confirmed.orderId, CORRELATION)),
      refund: await transitionOf(orders.refundStoreCredit(confirmed.orderId, CORRELATION)),
      cancel: await transitionOf(orders.cancel(confirmed.orderId, 'LATE', CORRELATION)),
      park: await transitionOf(
        orders.markRequiresAttention({
          orderId: confirmed.orderId,
          compensationId: `${confirmed.orderId}:compensation`,
          steps: ['CANCEL_ORDER'],
          error: 'X',
          cancellationReason: 'LATE',
          correlationId: CORRELATION,
        }),
      ),
    };
    await orders.fence(pending.orderId, CORRELATION);
    const fenced = {
      authorize: await transitionOf(orders.markAuthorized(pending.orderId, 'auth-late', CORRELATION)),
      confirm: await transitionOf(orders.confirm(pending.orderId, CORRELATION)),
    };

    expect(names).toEqual({
      capture: 'IllegalTransitionError: mark captured',
      captureAndConfirm: 'IllegalTransitionError: mark captured',
      outcome: 'IllegalTransitionError: mark payment voided',
      release: 'IllegalTransitionError: release reservations of',
      refund: 'IllegalTransitionError: refund store credit of',
      cancel: 'IllegalTransitionError: cancel',
      park: 'IllegalTransitionError: mark requires attention',
    });
    expect(fenced).toEqual({
      authorize: 'OrderFencedError: mark authorized',
      confirm: 'OrderFencedError: confirm',
    });
  });

  test('an order whose reservation was released is never confirmed', async () => {
    const { orderId } = await pendingOrder();
    await orders.markAuthorized(orderId, 'auth-7', CORRELATION);
    await orders.markCaptured(orderId, 'cap-7', CORRELATION);
    await orders.releaseReservations(orderId, CORRELATION);

    await expect(orders.confirm(orderId, CORRELATION)).rejects.toBeInstanceOf(ReservationReleasedError);
  });

  test('capture before authorization is refused', async () => {
    const { orderId } = await pendingOrder();

    await expect(orders.markCaptured(orderId, 'cap-8', CORRELATION)).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
  });

  test('concurrent duplicates of a transition apply it once', async () => {
    const confirmed = await pendingOrder();
    await orders.markAuthorized(confirmed.orderId, 'auth-9', CORRELATION);
    await orders.markCaptured(confirmed.orderId, 'cap-9', CORRELATION);
    const refunded = await pendingOrder({ storeCreditCents: 900 });

    const confirms = await Promise.all(
      Array.from({ length: 10 }, () => orders.confirm(confirmed.orderId, CORRELATION)),
    );
    const refunds = await Promise.all(
      Array.from({ length: 10 }, () => orders.refundStoreCredit(refunded.orderId, CORRELATION)),
    );

    expect(confirms.filter((r) => r.changed)).toHaveLength(1);
    expect(refunds.filter((r) => r.changed)).toHaveLength(1);
    expect(await new CatalogStore(db.sql).getProduct(confirmed.sku)).toMatchObject({
      onHand: 8,
      reserved: 0,
    });
    expect(await new WalletStore(db.sql).getWallet(refunded.customerId)).toMatchObject({
      balanceCents: 5000,
    });
  });

  test('an unknown order is reported as not found', async () => {
    await expect(orders.confirm('00000000-0000-4000-8000-000000000000', CORRELATION)).rejects.toBeInstanceOf(
      OrderNotFoundError,
    );
  });

  test('order events are append-only', async () => {
    const { orderId } = await pendingOrder();

    await expect(db.sql`delete from order_events where order_id = ${orderId}`).rejects.toThrow(/append-only/);
    await expect(db.sql`update wallet_transactions set amount_cents = 1`).rejects.toThrow(/append-only/);
  });
});
