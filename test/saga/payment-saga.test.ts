import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { redriveDlq } from '../../local/aws/sqs.js';
import { loadSagaTaskHandlers } from '../../local/saga.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import type { SagaInput } from '../../src/saga/saga-starter.js';
import {
  dlqDepth,
  MAX_RECEIVE_COUNT,
  placeSagaOrder,
  queueDepth,
  type SagaEnvironment,
  startSagaEnvironment,
  waitFor,
} from '../support/saga-environment.js';

const STOCK = 20;

describe('payment saga (real ASL, real task handlers, PostgreSQL, provider over HTTP, SQS and DynamoDB stand-ins)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;
  let catalog: CatalogStore;

  beforeAll(async () => {
    env = await startSagaEnvironment();
    orders = new OrderStore(env.db.sql);
    catalog = new CatalogStore(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    // Invariants after every scenario: one shared checker for stock, wallets and payments.
    expect(await env.violations()).toEqual([]);
  });

  /** Places an order for 2 units of a fresh SKU (price 1000) and returns what the saga starts with. */
  const placeOrder = (paymentMethod: string, options: { storeCreditCents?: number } = {}) =>
    placeSagaOrder(env, paymentMethod, { stock: STOCK, ...options });

  async function runSaga(input: SagaInput) {
    return env.saga.startExecution({ name: input.orderId, input }).result;
  }

  const succeeded = (entries: { operation: string; outcome: string }[], operation: string) =>
    entries.filter((e) => e.operation === operation && e.outcome === 'succeeded');

  test('pm_card_visa: CONFIRMED, stock committed, exactly one capture', async () => {
    const order = await placeOrder('pm_card_visa');

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK - 2, reserved: 0 });
    const ledger = await env.ledger(order.orderId);
    expect(succeeded(ledger, 'capture')).toHaveLength(1);
    expect((succeeded(ledger, 'capture')[0] as { idempotencyKey?: string } | undefined)?.idempotencyKey).toBe(
      `${order.orderId}:capture`,
    );
  });

  test('pm_card_declined: CANCELLED with a reason, stock released, store credit refunded, no capture', async () => {
    const order = await placeOrder('pm_card_declined', { storeCreditCents: 500 });

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_DECLINED',
      payment: { status: 'DECLINED' },
    });
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK, reserved: 0 });
    expect(await new WalletStore(env.db.sql).getWallet(order.customerId)).toMatchObject({
      balanceCents: 5000,
    });
    const ledger = await env.ledger(order.orderId);
    expect(ledger.filter((e) => e.operation === 'authorize').map((e) => e.outcome)).toEqual(['declined']);
    expect(ledger.filter((e) => e.operation === 'capture')).toEqual([]);
  });

  test('pm_card_flaky: CONFIRMED after retries, one authorization', async () => {
    const order = await placeOrder('pm_card_flaky');

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED' });
    const authorizations = (await env.ledger(order.orderId)).filter((e) => e.operation === 'authorize');
    expect(authorizations.map((e) => e.outcome)).toEqual(['failed', 'failed', 'succeeded']);
  });

  test("pm_auth_timeout: CANCELLED, the void was attempted with the order's key, stock released", async () => {
    const order = await placeOrder('pm_auth_timeout');

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_AUTHORIZATION_TIMEOUT',
      payment: { status: 'VOIDED' },
    });
    const ledger = await env.ledger(order.orderId);
    const voids = ledger.filter((e) => e.operation === 'void');
    expect(voids.length).toBeGreaterThan(0);
    expect(voids.every((e) => e.idempotencyKey === `${order.orderId}:void`)).toBe(true);
    // The provider did authorize behind the timeout; the void released it.
    expect(succeeded(ledger, 'authorize')).toHaveLength(1);
    expect(succeeded(ledger, 'void')).toHaveLength(1);
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK, reserved: 0 });
  });

  test('pm_capture_fails: capture retried per policy, then void, then CANCELLED', async () => {
    const order = await placeOrder('pm_capture_fails');

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'VOIDED' },
    });
    const ledger = await env.ledger(order.orderId);
    // The first attempt plus MaxAttempts 6 of the capture-retry policy.
    expect(ledger.filter((e) => e.operation === 'capture').map((e) => e.outcome)).toEqual(
      Array(7).fill('failed'),
    );
    expect(succeeded(ledger, 'void')).toHaveLength(1);
  });

  test('an order paid fully by store credit skips the card steps', async () => {
    const order = await placeOrder('pm_card_visa', { storeCreditCents: 2000 });

    const result = await runSaga(order);

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({ status: 'CONFIRMED', chargeCents: 0 });
    expect(await env.ledger(order.orderId)).toEqual([]);
  });

  test('pm_void_fails with store credit: REQUIRES_ATTENTION with stock and credit already back; the redrive after the fix voids once and ends CANCELLED', async () => {
    const order = await placeOrder('pm_void_fails', { storeCreditCents: 300 });
    const compensations = new CompensationStore(env.db.sql);
    const wallets = new WalletStore(env.db.sql);
    const compensationId = `${order.orderId}:compensation`;

    const result = await runSaga(order);

    expect(result).toMatchObject({ status: 'FAILED', error: 'CompensationFailed' });
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'REQUIRES_ATTENTION',
      payment: { status: 'AUTHORIZED' },
    });
    // What the customer is owed did not wait for the void: the stock is for sale again and the
    // credit is back in the wallet, while the card authorization is still held.
    expect(await catalog.getProduct(order.sku)).toMatchObject({
      onHand: STOCK,
      reserved: 0,
      available: STOCK,
    });
    expect(await wallets.getWallet(order.customerId)).toMatchObject({ balanceCents: 5000 });
    expect(await queueDepth(env)).toBe(1);
    expect(await compensations.get(compensationId)).toMatchObject({
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
    });
    // The worker keeps failing while the provider cannot void, until the message reaches the DLQ.
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'FAILED', 30_000);
    await env.stopWorker();
    const failed = await compensations.get(compensationId);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: MAX_RECEIVE_COUNT });
    expect(failed?.lastError).toMatch(/PaymentProviderTransientError/);
    await waitFor(async () => (await dlqDepth(env)) === 1, 10_000);
    // What the saga's QueueCompensation state sent, now in the DLQ for operators to read.
    const queued = await env.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: env.queue.dlqUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 0 }),
    );
    expect(JSON.parse(queued.Messages?.[0]?.Body ?? '{}')).toEqual({
      compensationId,
      orderId: order.orderId,
      steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      error: 'PaymentProviderTransientError',
      correlationId: order.correlationId,
    });

    // The operator fixes the cause and redrives the DLQ; the worker finishes the job.
    await env.clearFaults();
    expect(await redriveDlq(env.sqs, { dlqArn: env.queue.dlqArn, sourceArn: env.queue.queueArn })).toBe(1);
    env.startWorker();
    await waitFor(async () => (await compensations.get(compensationId))?.status === 'RESOLVED', 20_000);
    await env.stopWorker();

    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      payment: { status: 'VOIDED' },
    });
    expect(succeeded(await env.ledger(order.orderId), 'void')).toHaveLength(1);
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK, reserved: 0 });
    expect(await wallets.getWallet(order.customerId)).toMatchObject({ balanceCents: 5000 });
    const refunds = async () =>
      (
        await env.db.sql`
          select count(*)::int as count from wallet_transactions where order_id = ${order.orderId} and kind = 'REFUND'
        `
      )[0]?.count;
    expect(await refunds()).toBe(1);

    // Delivered again, as a redriven copy with a new message id, and as a message of the release
    // before this one (every step, the payment first): nothing is voided or refunded twice.
    const body = JSON.stringify({
      compensationId,
      orderId: order.orderId,
      steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS', 'REFUND_STORE_CREDIT', 'CANCEL_ORDER'],
      cancellationReason: 'PAYMENT_CAPTURE_FAILED',
      error: 'PaymentProviderTransientError',
      correlationId: order.correlationId,
    });
    await env.sqs.send(new SendMessageCommand({ QueueUrl: env.queue.queueUrl, MessageBody: body }));
    await env.sqs.send(new SendMessageCommand({ QueueUrl: env.queue.queueUrl, MessageBody: body }));
    env.startWorker();
    await waitFor(async () => (await queueDepth(env)) === 0, 15_000);
    await env.stopWorker();
    expect(succeeded(await env.ledger(order.orderId), 'void')).toHaveLength(1);
    expect(await refunds()).toBe(1);
    expect(await compensations.get(compensationId)).toMatchObject({
      status: 'RESOLVED',
      attempts: MAX_RECEIVE_COUNT + 1,
    });
  });

  test('starting the saga twice for one order runs one execution', async () => {
    const order = await placeOrder('pm_card_visa');

    const first = env.saga.startExecution({ name: order.orderId, input: order });
    await first.result;
    const again = () =>
      env.saga.startExecution({ name: order.orderId, input: { ...order, correlationId: 'x' } });

    expect(again).toThrow(expect.objectContaining({ name: 'ExecutionAlreadyExists' }));
    expect(succeeded(await env.ledger(order.orderId), 'authorize')).toHaveLength(1);
    expect(succeeded(await env.ledger(order.orderId), 'capture')).toHaveLength(1);
  });

  test('re-invoking every task handler after the saga ends charges, captures, releases and refunds nothing twice', async () => {
    const confirmed = await placeOrder('pm_card_visa', { storeCreditCents: 100 });
    const cancelled = await placeOrder('pm_card_declined', { storeCreditCents: 100 });
    await runSaga(confirmed);
    await runSaga(cancelled);
    const before = {
      ledger: await env.ledger(),
      stock: [await catalog.getProduct(confirmed.sku), await catalog.getProduct(cancelled.sku)],
      wallets: await env.db
        .sql`select customer_id, balance_cents from store_credit_wallets order by customer_id`,
    };

    for (const order of [confirmed, cancelled]) {
      for (const [state, handler] of await loadSagaTaskHandlers()) {
        const input = {
          orderId: order.orderId,
          correlationId: order.correlationId,
          authorizationId: 'auth-replayed',
          reason: 'PAYMENT_DECLINED',
          cancellationReason: 'PAYMENT_DECLINED',
          compensationId: `${order.orderId}:compensation`,
          steps: ['CANCEL_ORDER'],
          error: 'replayed',
        };
        // A step that no longer applies is refused (IllegalTransitionError, OrderFencedError for
        // a payment step of a cancelled order, or the decline it recorded, PaymentDeclinedError);
        // none may act twice.
        await handler(input as never, createLambdaContext({ functionName: state })).catch((error: Error) => {
          expect(['IllegalTransitionError', 'OrderFencedError', 'PaymentDeclinedError']).toContain(
            error.name,
          );
        });
      }
    }

    expect(await env.ledger()).toEqual(before.ledger);
    expect([await catalog.getProduct(confirmed.sku), await catalog.getProduct(cancelled.sku)]).toEqual(
      before.stock,
    );
    expect(
      await env.db.sql`select customer_id, balance_cents from store_credit_wallets order by customer_id`,
    ).toEqual(before.wallets);
    expect((await orders.getOrder(confirmed.orderId))?.status).toBe('CONFIRMED');
    expect((await orders.getOrder(cancelled.orderId))?.status).toBe('CANCELLED');
  });

  test('concurrent checkouts of every payment method settle with all invariants holding', async () => {
    const methods = [
      'pm_card_visa',
      'pm_card_declined',
      'pm_card_flaky',
      'pm_capture_fails',
      'pm_auth_timeout',
    ];
    const placed = [];
    for (const method of methods.flatMap((m) => [m, m]))
      placed.push(await placeOrder(method, { storeCreditCents: 100 }));

    const results = await Promise.all(placed.map((order) => runSaga(order)));

    expect(results.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    const statuses = await Promise.all(placed.map(async (o) => (await orders.getOrder(o.orderId))?.status));
    expect(statuses.filter((s) => s === 'CONFIRMED')).toHaveLength(4);
    expect(statuses.filter((s) => s === 'CANCELLED')).toHaveLength(6);
  });
});
