import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { PaymentSaga } from '../../src/saga/steps.js';
import { placeSagaOrder, type SagaEnvironment, startSagaEnvironment } from '../support/saga-environment.js';

/**
 * The payment steps after migrations/0015 (docs/adr/0026-fewer-round-trips-per-checkout.md): each
 * reads what it needs with payment_step_view, and CapturePayment records the capture and confirms
 * in one call. The steps run as every task handler runs them: over the database as the
 * application role and the provider over HTTP.
 */
describe('the payment steps in fewer round trips (PostgreSQL, provider over HTTP)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;

  beforeAll(async () => {
    env = await startSagaEnvironment();
    orders = new OrderStore(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    expect(await env.violations()).toEqual([]);
  });

  const sagaOn = (sql: Sql) =>
    new PaymentSaga({
      orders: new OrderStore(sql),
      payments: createHttpPaymentGateway({ baseUrl: env.providerUrl, timeoutMs: 5_000 }),
    });

  test("a happy card checkout's payment steps make four round trips: a read and a record each", async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    let sent = 0;
    const counting = await env.db.applicationSql({
      max: 1,
      debug: () => {
        sent += 1;
      },
    });
    const saga = sagaOn(counting);

    await saga.authorizePayment(order);
    await saga.capturePayment(order);

    expect(sent).toBe(4);
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
  });

  test('the database dies while the capture is being recorded: nothing is half-recorded, and the retry records the replayed capture and confirms; charged once', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    const app = await env.db.applicationSql({ max: 1, applicationName: 'capture-victim' });
    const saga = sagaOn(app);
    await saga.authorizePayment(order);
    // Hold the SKU's inventory row, so the record stops inside the confirmation, after the capture's record.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const blocking = env.db.sql.begin(async (tx) => {
      await tx`select 1 from inventory where sku = ${order.sku} for update`;
      locked();
      await held;
    });
    await isLocked;

    const capture = saga.capturePayment(order).then(
      () => undefined,
      (error: unknown) => error,
    );
    let pid: number | undefined;
    for (let i = 0; i < 400 && pid === undefined; i += 1) {
      const [row] = await env.db.sql<{ pid: number }[]>`
        select pid from pg_stat_activity
        where application_name = 'capture-victim' and wait_event_type = 'Lock' and query like '%confirm%'
      `;
      pid = row?.pid;
      if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(pid).toBeDefined();
    await env.db.sql`select pg_terminate_backend(${pid as number})`;
    const error = await capture;
    release();
    await blocking;

    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    // The provider captured; the database kept neither the record nor the confirmation.
    expect(await env.outcomes(order.orderId, 'capture')).toEqual(['succeeded']);
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'AUTHORIZED',
      payment: { status: 'AUTHORIZED' },
    });

    // The state machine's retry: the provider replays its capture (same key), which is recorded and confirmed.
    const retried = await sagaOn(env.db.sql).capturePayment(order);

    expect(retried.captureId).toEqual(expect.any(String));
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    expect(await env.outcomes(order.orderId, 'capture')).toEqual(['succeeded']);
  });

  test('the answer is lost after the record committed: the retry answers from the record and calls nobody', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa');
    const saga = sagaOn(env.db.sql);
    await saga.authorizePayment(order);
    await saga.capturePayment(order);
    const ledgerBefore = await env.ledger(order.orderId);

    const retried = await saga.capturePayment(order);

    expect(retried).toEqual({ captureId: null });
    expect(await env.ledger(order.orderId)).toEqual(ledgerBefore);
    expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
  });
});
