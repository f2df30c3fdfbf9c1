import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import { createPlaceOrder, orderIdFor } from '../../src/checkout/place-order.js';
import { createSql } from '../../src/db/client.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { OrderFencedError, ReservationReleasedError } from '../../src/domain/errors.js';
import { RecordingSagaStartBuffer, RecordingSagaStarter } from '../api/support/fakes.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts } from '../support/fixtures.js';

const CORRELATION = 'corr-round-trips';

/**
 * The functions of migrations/0015 that fold a checkout's statements into fewer round trips
 * (docs/adr/0026-fewer-round-trips-per-checkout.md): the same outcomes as the calls they replace,
 * one transaction each, nothing half-written when the database dies in the middle.
 */
describe('fewer round trips per checkout (migration 0015)', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let counter = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
  });
  afterAll(async () => {
    expect(violationsOf(await auditDatabase(db.sql))).toEqual([]);
    await db.drop();
  });

  /** A pool of one connection that counts the statements it sends. */
  function countingPool(): { sql: Sql; sent: () => number } {
    let sent = 0;
    const sql = createSql(db.url, {
      max: 1,
      debug: () => {
        sent += 1;
      },
    });
    return { sql, sent: () => sent };
  }

  async function freshSku(onHand = 10): Promise<string> {
    counter += 1;
    const sku = `RT-${counter}`;
    await seedProducts(db.sql, { [sku]: { onHand, priceCents: 1000 } });
    return sku;
  }

  /** Rows a repeated call must leave alone. */
  async function state(orderId: string, sku: string) {
    const [row] = await db.sql`
      select
        (select count(*)::int from orders where id = ${orderId}) as orders,
        (select count(*)::int from order_events where order_id = ${orderId}) as events,
        (select count(*)::int from outbox_events where aggregate_id = ${orderId}) as outbox,
        (select row_to_json(i) from (select on_hand, reserved from inventory where sku = ${sku}) i) as inventory,
        (select row_to_json(p) from (select status from payments where order_id = ${orderId}) p) as payment
    `;
    return row;
  }

  /** A PENDING card order for 2 units of a fresh SKU, then authorized. */
  async function authorizedOrder() {
    const sku = await freshSku();
    const input = orderInput({ customerId: `rt-${counter}`, items: [{ sku, quantity: 2 }] });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(`fixture order not placed: ${placed.outcome}`);
    await orders.markAuthorized(input.orderId, `auth-${counter}`, CORRELATION);
    return { orderId: input.orderId, sku };
  }

  describe('place_or_find_order', () => {
    const command = (sku: string) => ({
      customerId: `rt-customer-${randomUUID()}`,
      idempotencyKey: randomUUID(),
      correlationId: randomUUID(),
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      storeCreditCents: 0,
      items: [{ sku, quantity: 1 }],
    });

    test('a new checkout is one round trip to the database', async () => {
      const sku = await freshSku();
      const counting = countingPool();
      const placeOrder = createPlaceOrder({
        orders: new OrderStore(counting.sql),
        sagaStarter: new RecordingSagaStarter(),
        sagaStartBuffer: new RecordingSagaStartBuffer(),
      });

      const outcome = await placeOrder(command(sku));

      expect(outcome).toMatchObject({ outcome: 'ACCEPTED', resumed: false });
      expect(counting.sent()).toBe(1);
      await counting.sql.end();
    });

    test('a retry finds its order in that same round trip, with its stock gone, and writes nothing', async () => {
      const sku = await freshSku(1);
      const first = command(sku);
      const orderId = orderIdFor(first.customerId, first.idempotencyKey);
      const saga = new RecordingSagaStarter();
      await createPlaceOrder({ orders, sagaStarter: saga, sagaStartBuffer: new RecordingSagaStartBuffer() })(
        first,
      );
      const before = await state(orderId, sku);
      const counting = countingPool();
      const placeOrder = createPlaceOrder({
        orders: new OrderStore(counting.sql),
        sagaStarter: saga,
        sagaStartBuffer: new RecordingSagaStartBuffer(),
      });

      const retried = await placeOrder({ ...first, correlationId: 'retry' });

      expect(retried).toMatchObject({ outcome: 'ACCEPTED', resumed: true, order: { orderId } });
      expect(counting.sent()).toBe(1);
      expect(await state(orderId, sku)).toEqual(before);
      await counting.sql.end();
    });

    test('two attempts racing to place one new order: one places it, the other finds it or meets its key', async () => {
      const sku = await freshSku();
      const input = orderInput({ customerId: 'rt-race', items: [{ sku, quantity: 1 }] });
      const racers = await Promise.all([createSql(db.url, { max: 1 }), createSql(db.url, { max: 1 })]);

      const outcomes = await Promise.all(racers.map((sql) => new OrderStore(sql).placeOrFindOrder(input)));

      expect(outcomes.filter((o) => o.outcome === 'PLACED')).toHaveLength(1);
      expect(['EXISTS', 'ALREADY_PLACED']).toContain(outcomes.find((o) => o.outcome !== 'PLACED')?.outcome);
      expect(await state(input.orderId, sku)).toMatchObject({
        orders: 1,
        inventory: { on_hand: 10, reserved: 1 },
      });
      await Promise.all(racers.map((sql) => sql.end()));
    });
  });

  describe('capture_and_confirm', () => {
    test('records the capture and confirms the order in one call; a repeat changes nothing', async () => {
      const { orderId, sku } = await authorizedOrder();

      const first = await orders.captureAndConfirm(orderId, 'cap-1', CORRELATION);
      const afterFirst = await state(orderId, sku);
      const second = await orders.captureAndConfirm(orderId, 'cap-1', CORRELATION);

      expect(first).toEqual({ changed: true, status: 'CONFIRMED' });
      expect(second).toEqual({ changed: false, status: 'CONFIRMED' });
      expect(await state(orderId, sku)).toEqual(afterFirst);
      expect(afterFirst).toMatchObject({
        payment: { status: 'CAPTURED' },
        inventory: { on_hand: 8, reserved: 0 },
      });
      const types = await db.sql<{ type: string }[]>`
        select type from order_events where order_id = ${orderId} order by created_at
      `;
      expect(types.map((t) => t.type)).toEqual([
        'ORDER_PLACED',
        'PAYMENT_AUTHORIZED',
        'PAYMENT_CAPTURED',
        'ORDER_CONFIRMED',
      ]);
    });

    test('a fenced order: the capture record is refused, nothing confirmed, the error names the record', async () => {
      const { orderId, sku } = await authorizedOrder();
      await orders.fence(orderId, CORRELATION);
      const before = await state(orderId, sku);

      const refused = orders.captureAndConfirm(orderId, 'cap-2', CORRELATION);

      await expect(refused).rejects.toBeInstanceOf(OrderFencedError);
      await expect(refused).rejects.toMatchObject({ transition: 'mark captured' });
      expect(await state(orderId, sku)).toEqual(before);
    });

    test('a capture already recorded, then the fence: the repeat changes nothing and the error names the confirmation', async () => {
      const { orderId, sku } = await authorizedOrder();
      await orders.markCaptured(orderId, 'cap-5', CORRELATION);
      await orders.fence(orderId, CORRELATION);
      const before = await state(orderId, sku);

      const refused = orders.captureAndConfirm(orderId, 'cap-5', CORRELATION);

      await expect(refused).rejects.toBeInstanceOf(OrderFencedError);
      await expect(refused).rejects.toMatchObject({ transition: 'confirm' });
      expect(await state(orderId, sku)).toEqual(before);
    });

    test('a released reservation: the capture stays recorded for compensation to refund, the order is not confirmed', async () => {
      const { orderId, sku } = await authorizedOrder();
      await orders.releaseReservations(orderId, CORRELATION);

      await expect(orders.captureAndConfirm(orderId, 'cap-3', CORRELATION)).rejects.toBeInstanceOf(
        ReservationReleasedError,
      );

      expect(await state(orderId, sku)).toMatchObject({
        payment: { status: 'CAPTURED' },
        inventory: { on_hand: 10, reserved: 0 },
      });
      expect(await orders.getOrder(orderId)).toMatchObject({ status: 'AUTHORIZED' });
    });

    test('the database dies in the middle of the call: neither the capture record nor the confirmation is kept, and the retry does both', async () => {
      const { orderId, sku } = await authorizedOrder();
      const victim = createSql(db.url, { max: 1, applicationName: 'rt-victim' });
      // Hold the SKU's inventory row, so the call stops inside its confirmation, after it recorded the capture.
      const blocker = createSql(db.url, { max: 1 });
      let releaseBlocker = () => {};
      const held = new Promise<void>((resolve) => {
        releaseBlocker = resolve;
      });
      let locked = () => {};
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const blocking = blocker.begin(async (tx) => {
        await tx`select 1 from inventory where sku = ${sku} for update`;
        locked();
        await held;
      });
      await isLocked;

      const call = new OrderStore(victim).captureAndConfirm(orderId, 'cap-4', CORRELATION);
      const settled = call.then(
        () => undefined,
        (error: unknown) => error,
      );
      // Waiting on the lock, inside capture_and_confirm: the backend dies there.
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i += 1) {
        const [row] = await db.sql<{ pid: number }[]>`
          select pid from pg_stat_activity
          where application_name = 'rt-victim' and wait_event_type = 'Lock' and query like '%confirm%'
        `;
        pid = row?.pid;
        if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(pid).toBeDefined();
      await db.sql`select pg_terminate_backend(${pid as number})`;
      const error = await settled;
      releaseBlocker();
      await blocking;

      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect(await state(orderId, sku)).toMatchObject({
        payment: { status: 'AUTHORIZED' },
        inventory: { on_hand: 10, reserved: 2 },
      });
      expect(await orders.captureAndConfirm(orderId, 'cap-4', CORRELATION)).toEqual({
        changed: true,
        status: 'CONFIRMED',
      });
      await Promise.all([victim.end({ timeout: 1 }), blocker.end({ timeout: 1 })]);
    });
  });

  describe('payment_step_view', () => {
    test('answers what the payment steps read, as order_snapshot has it, without the items; nothing for an unknown order', async () => {
      const pending = await authorizedOrder();
      const fenced = await authorizedOrder();
      await orders.fence(fenced.orderId, CORRELATION);

      for (const { orderId } of [pending, fenced]) {
        const snapshot = await orders.getOrder(orderId);
        const view = await orders.getPaymentView(orderId);
        expect(view).toEqual({
          orderId,
          status: snapshot?.status,
          currency: snapshot?.currency,
          chargeCents: snapshot?.chargeCents,
          paymentMethod: snapshot?.paymentMethod,
          payment: snapshot?.payment,
          fenced: snapshot?.fenced,
        });
      }
      expect((await orders.getPaymentView(fenced.orderId))?.fenced).toBe(true);
      expect(await orders.getPaymentView(randomUUID())).toBeUndefined();
    });
  });
});
