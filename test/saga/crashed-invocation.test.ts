import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { CrashKind, CrashPoint } from '../../local/faults/process-crashes.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import {
  placeSagaOrder,
  queueDepth,
  type SagaEnvironment,
  startSagaEnvironment,
} from '../support/saga-environment.js';

const STOCK = 20;
/** Two units are ordered (see placeSagaOrder). */
const ORDERED = 2;

/**
 * A saga step whose Lambda process dies mid-invocation, as postgres.js's catalog query on connect
 * made it when the database cut the connection (porsager/postgres#1192; that query is now turned
 * off in src/db/client.ts, and a process can die of other causes). The money steps run in
 * containers of their own, as Lambda runs them; the process dies right after the provider did the
 * work and before the step recorded it, at the worst moment; the error type reaching the state
 * machine is what the container runtime reports for that death, and the Task's infrastructure
 * Retry must run the step again rather than cancel a healthy order.
 */
describe('a saga step whose process dies mid-invocation (real ASL, steps in containers, PostgreSQL, provider over HTTP)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;
  let catalog: CatalogStore;
  let compensations: CompensationStore;

  beforeAll(async () => {
    env = await startSagaEnvironment({}, { containerTasks: ['AuthorizePayment', 'CapturePayment'] });
    orders = new OrderStore(env.db.sql);
    catalog = new CatalogStore(env.db.sql);
    compensations = new CompensationStore(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    expect(await env.violations()).toEqual([]);
  });

  test.each<{ state: string; effect: CrashPoint; kind: CrashKind; errorType: string }>([
    {
      state: 'AuthorizePayment',
      effect: 'authorize',
      kind: 'unhandledRejection',
      errorType: 'Runtime.UnhandledPromiseRejection',
    },
    { state: 'AuthorizePayment', effect: 'authorize', kind: 'exit', errorType: 'Runtime.ExitError' },
    {
      state: 'CapturePayment',
      effect: 'capture',
      kind: 'unhandledRejection',
      errorType: 'Runtime.UnhandledPromiseRejection',
    },
    { state: 'CapturePayment', effect: 'capture', kind: 'exit', errorType: 'Runtime.ExitError' },
  ])('$state dies ($errorType) right after $effect: retried in a fresh container, CONFIRMED, charged once, stock committed, nothing compensated', async ({
    state,
    effect,
    kind,
    errorType,
  }) => {
    const order = await placeSagaOrder(env, 'pm_card_visa', { stock: STOCK });
    env.planCrash({ orderId: order.orderId, effect, kind });

    const result = await env.saga.startExecution({ name: order.orderId, input: order }).result;

    expect(env.crashCarriedOut({ orderId: order.orderId, effect })).toBe(true);
    expect(env.taskFailures.filter((failure) => failure.orderId === order.orderId)).toEqual([
      { state, orderId: order.orderId, errorType },
    ]);
    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(order.orderId)).toMatchObject({
      status: 'CONFIRMED',
      payment: { status: 'CAPTURED' },
    });
    // The retry found the authorization and the capture at the provider (same keys): one of each.
    expect(await env.outcomes(order.orderId, 'authorize')).toEqual(['succeeded']);
    expect(await env.outcomes(order.orderId, 'capture')).toEqual(['succeeded']);
    expect(await env.outcomes(order.orderId, 'void')).toEqual([]);
    expect(await env.outcomes(order.orderId, 'refund')).toEqual([]);
    expect(await catalog.getProduct(order.sku)).toMatchObject({ onHand: STOCK - ORDERED, reserved: 0 });
    expect(await compensations.get(`${order.orderId}:compensation`)).toBeUndefined();
    expect(await queueDepth(env)).toBe(0);
  });
});
