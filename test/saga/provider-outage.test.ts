import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PROVIDER_UNAVAILABLE } from '../../bench/lib/invariants.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { OrderStore } from '../../src/db/orders.js';
import {
  placeSagaOrder,
  type SagaEnvironment,
  startSagaEnvironment,
  waitFor,
} from '../support/saga-environment.js';

const STOCK = 20;
/** Two failed calls open the circuit; it stays open long enough for every retry of one step. */
const FAILURES_TO_OPEN = 2;
const OPEN_FOR_MS = 3000;

/**
 * A provider outage that outlasts the payment steps' retries: the circuit breaker opens and keeps
 * every later call of the order from the provider. The order is cancelled as a provider outage,
 * told apart from a payment failure, so neither an operator nor the audit takes it for an order
 * an infrastructure fault cancelled.
 */
describe('payment saga when the circuit breaker stays open (real ASL, PostgreSQL, provider over HTTP)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;
  let catalog: CatalogStore;

  beforeAll(async () => {
    env = await startSagaEnvironment({
      PAYMENT_BREAKER_FAILURE_THRESHOLD: String(FAILURES_TO_OPEN),
      PAYMENT_BREAKER_HALF_OPEN_AFTER_MS: String(OPEN_FOR_MS),
    });
    orders = new OrderStore(env.db.sql);
    catalog = new CatalogStore(env.db.sql);
    env.startWorker();
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    await env.clearFaults();
    expect(await env.violations()).toEqual([]);
  });

  test('a healthy card order the open breaker keeps from the provider is CANCELLED PAYMENT_PROVIDER_UNAVAILABLE, with nothing charged', async () => {
    const order = await placeSagaOrder(env, 'pm_card_visa', { stock: STOCK });
    await env.setFaults({ errorRate: 1 });

    const execution = env.saga.startExecution({ name: order.orderId, input: order }).result;
    // The provider is back as soon as the breaker has opened; the open breaker still refuses the
    // order's later authorize attempts, which is the case under test.
    await waitFor(
      async () =>
        (await env.ledger(order.orderId)).filter((e) => e.operation === 'authorize').length >=
        FAILURES_TO_OPEN,
      10_000,
    );
    await env.clearFaults();
    await execution;
    // The compensation may finish in the saga or, if the breaker was still open, in the worker.
    await waitFor(async () => (await orders.getOrder(order.orderId))?.status === 'CANCELLED', 20_000);

    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellationReason: PROVIDER_UNAVAILABLE,
    });
    const ledger = await env.ledger(order.orderId);
    expect(ledger.filter((e) => e.operation === 'authorize').map((e) => e.outcome)).toEqual(
      Array(FAILURES_TO_OPEN).fill('failed'),
    );
    expect(ledger.filter((e) => e.operation === 'capture')).toEqual([]);
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK, reserved: 0 });
  });
});
