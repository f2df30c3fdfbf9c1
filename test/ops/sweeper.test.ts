import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CatalogStore } from '../../src/db/catalog.js';
import { createSql } from '../../src/db/client.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import { WalletStore } from '../../src/db/wallets.js';
import { type SweeperDependencies, sweepStuckOrders } from '../../src/ops/sweeper.js';
import { paymentIdempotencyKey } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { containerPaymentSaga } from '../../src/roots/saga.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';
import { type SagaEnvironment, startSagaEnvironment } from '../support/saga-environment.js';

describe('crash-recovery sweeper', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;
  let scenario = 0;

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

  function sweeper(sql = env.db.sql): SweeperDependencies {
    return {
      recovery: new RecoveryStore(sql),
      orders: new OrderStore(sql),
      saga: containerPaymentSaga(),
      starter: env.stepFunctions,
      inspector: env.stepFunctions,
      compensationQueue: new SqsCompensationQueue(env.sqs, env.queue.queueUrl),
    };
  }

  /** A PENDING order whose saga was never started, last touched ten minutes ago. */
  async function strandedOrder(paymentMethod = 'pm_card_visa') {
    scenario += 1;
    const sku = `SWEEP-${scenario}`;
    await seedProducts(env.db.sql, { [sku]: { onHand: 5 } });
    const input = orderInput({ paymentMethod, items: [{ sku, quantity: 1 }] });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(placed.outcome);
    await ageOrder(input.orderId);
    return input;
  }

  async function ageOrder(orderId: string) {
    await env.db.sql`update orders set updated_at = now() - interval '10 minutes' where id = ${orderId}`;
  }

  async function waitForStatus(orderId: string, status: string) {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if ((await orders.getOrder(orderId))?.status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`order ${orderId} did not reach ${status}: ${(await orders.getOrder(orderId))?.status}`);
  }

  test('an order whose saga never started gets its saga started and ends CONFIRMED', async () => {
    const order = await strandedOrder();

    const report = await sweepStuckOrders(sweeper());

    expect(report).toMatchObject({ claimed: 1, started: 1 });
    await waitForStatus(order.orderId, 'CONFIRMED');
  });

  test('an order whose execution died after authorization is compensated: voided, released, CANCELLED', async () => {
    scenario += 1;
    const sku = `SWEEP-${scenario}`;
    await seedProducts(env.db.sql, { [sku]: { onHand: 5 } });
    const input = orderInput({ paymentMethod: 'pm_capture_fails', items: [{ sku, quantity: 1 }] });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(placed.outcome);
    // Slow the provider so the execution is still retrying its capture when it is killed.
    await env.setFaults({ latencyMs: 300 });
    const execution = env.saga.startExecution({
      name: input.orderId,
      input: {
        orderId: input.orderId,
        correlationId: input.correlationId,
        chargeCents: placed.order.chargeCents,
      },
    });
    await waitForStatus(input.orderId, 'AUTHORIZED');
    await env.saga.stopExecution(input.orderId, { error: 'Killed', cause: 'simulated crash' });
    expect((await execution.result).status).toBe('ABORTED');
    await env.clearFaults();
    await ageOrder(input.orderId);

    const report = await sweepStuckOrders(sweeper());

    expect(report).toMatchObject({ claimed: 1, compensated: 1 });
    expect(await orders.getOrder(input.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'SAGA_INTERRUPTED',
      payment: { status: 'VOIDED' },
    });
  });

  test('a stuck order whose void fails: stock and credit come back first, and only the payment and the cancel are queued', async () => {
    scenario += 1;
    const sku = `SWEEP-${scenario}`;
    const customerId = `sweep-customer-${scenario}`;
    await seedProducts(env.db.sql, { [sku]: { onHand: 5 } });
    await seedWallet(env.db.sql, customerId, 5000);
    const input = orderInput({
      customerId,
      paymentMethod: 'pm_void_fails',
      storeCreditCents: 400,
      items: [{ sku, quantity: 2 }],
    });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(placed.outcome);
    // Authorized, then its saga was lost and its reservation ran out.
    const authorization = await createHttpPaymentGateway({ baseUrl: env.providerUrl }).authorize({
      orderId: input.orderId,
      amountCents: placed.order.chargeCents,
      currency: 'USD',
      paymentMethod: 'pm_void_fails',
      idempotencyKey: paymentIdempotencyKey(input.orderId, 'authorize'),
    });
    if (authorization.outcome !== 'AUTHORIZED') throw new Error(authorization.outcome);
    await orders.markAuthorized(input.orderId, authorization.authorizationId, input.correlationId);
    await env.db
      .sql`update reservations set expires_at = now() - interval '1 minute' where order_id = ${input.orderId}`;

    const report = await sweepStuckOrders(sweeper());

    expect(report).toMatchObject({ claimed: 1, requiresAttention: 1 });
    expect(await orders.getOrder(input.orderId)).toMatchObject({
      status: 'REQUIRES_ATTENTION',
      payment: { status: 'AUTHORIZED' },
      fenced: true,
    });
    expect(await new CatalogStore(env.db.sql).getProduct(sku)).toMatchObject({ reserved: 0, available: 5 });
    expect(await new WalletStore(env.db.sql).getWallet(customerId)).toMatchObject({ balanceCents: 5000 });
    expect(await new CompensationStore(env.db.sql).get(`${input.orderId}:compensation`)).toMatchObject({
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
    });

    // Once the provider can void, the worker finishes it.
    await env.clearFaults();
    env.startWorker();
    await waitForStatus(input.orderId, 'CANCELLED');
    await env.stopWorker();
  });

  test('an order with an expired reservation and no running saga is released and cancelled', async () => {
    const order = await strandedOrder();
    await env.db
      .sql`update reservations set expires_at = now() - interval '1 minute' where order_id = ${order.orderId}`;
    await env.db.sql`update orders set updated_at = now() where id = ${order.orderId}`;

    const report = await sweepStuckOrders(sweeper());

    expect(report).toMatchObject({ claimed: 1, compensated: 1 });
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'RESERVATION_EXPIRED',
    });
  });

  test('an order whose saga is still running is left alone', async () => {
    const order = await strandedOrder();
    await env.setFaults({ latencyMs: 1000 });
    const execution = env.saga.startExecution({
      name: order.orderId,
      input: { orderId: order.orderId, correlationId: order.correlationId, chargeCents: 1000 },
    });

    const report = await sweepStuckOrders(sweeper());

    expect(report).toMatchObject({ claimed: 1, stillRunning: 1 });
    await env.clearFaults();
    expect((await execution.result).status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
  });

  test('two sweepers at once never act on the same order', async () => {
    const stranded: Awaited<ReturnType<typeof strandedOrder>>[] = [];
    for (let i = 0; i < 12; i += 1) stranded.push(await strandedOrder());
    const otherPool = createSql(env.db.url, { max: 2 });

    const reports = await Promise.all([sweepStuckOrders(sweeper()), sweepStuckOrders(sweeper(otherPool))]);
    await otherPool.end();

    expect(reports.reduce((sum, r) => sum + r.claimed, 0)).toBe(12);
    expect(reports.reduce((sum, r) => sum + r.started, 0)).toBe(12);
    for (const order of stranded) await waitForStatus(order.orderId, 'CONFIRMED');
    const authorizations = (await env.ledger()).filter(
      (e) => e.operation === 'authorize' && stranded.some((o) => o.orderId === e.orderId),
    );
    expect(authorizations).toHaveLength(12);
  });

  test('a failed compensation whose message never reached the queue is queued again and finished', async () => {
    const order = await strandedOrder();
    await orders.markRequiresAttention({
      orderId: order.orderId,
      compensationId: `${order.orderId}:compensation`,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
      error: 'SQS.ServiceUnavailable',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      correlationId: order.correlationId,
    });
    await env.db.sql`
      update failed_compensations set updated_at = now() - interval '10 minutes' where order_id = ${order.orderId}
    `;

    const report = await sweepStuckOrders(sweeper());
    env.startWorker();
    await waitForStatus(order.orderId, 'CANCELLED');
    await env.stopWorker();

    expect(report.requeuedCompensations).toBe(1);
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
    });
  });

  test('a second sweep right after the first finds nothing to claim', async () => {
    await strandedOrder();
    await sweepStuckOrders(sweeper());

    const again = await sweepStuckOrders(sweeper());

    expect(again.claimed).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
  });
});
