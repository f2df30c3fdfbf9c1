import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OrderStore } from '../../src/db/orders.js';
import { containerPaymentGateway } from '../../src/roots/payments.js';
import { placeSagaOrder, type SagaEnvironment, startSagaEnvironment } from '../support/saga-environment.js';

const OLD_KEY = 'provider-key-before-rotation-0123456789';
const NEW_KEY = 'provider-key-after-rotation-9876543210';

/**
 * A provider key rotated while the functions hold the old one (docs/adr/0020): the provider
 * requires the new key at once, the secret holds it, the handlers' cache still has the old one.
 * The refused call reads the secret afresh and is sent again with the same idempotency key, so the
 * order goes through, and the refusal never counts as an outage in the circuit breaker.
 */
describe('a rotated provider key (real ASL, PostgreSQL, provider and Secrets Manager over HTTP)', () => {
  let env: SagaEnvironment;
  let orders: OrderStore;

  beforeAll(async () => {
    // One failure would open the breaker: a refused key counted as an outage shows at once.
    env = await startSagaEnvironment({ PAYMENT_BREAKER_FAILURE_THRESHOLD: '1' }, { providerKey: OLD_KEY });
    orders = new OrderStore(env.db.sql);
  });
  afterAll(async () => {
    await env?.close();
  });

  test('an order placed after the rotation still CONFIRMS, charged once, and the breaker stays closed', async () => {
    const before = await placeSagaOrder(env, 'pm_card_visa');
    const first = await env.saga.startExecution({ name: before.orderId, input: before }).result;
    expect(first.status).toBe('SUCCEEDED');
    const readsBefore = env.providerKeyReads();

    env.rotateProviderKey(NEW_KEY);
    const after = await placeSagaOrder(env, 'pm_card_visa');
    const result = await env.saga.startExecution({ name: after.orderId, input: after }).result;

    expect(result.status).toBe('SUCCEEDED');
    expect(await orders.getOrder(after.orderId)).toMatchObject({ status: 'CONFIRMED' });
    const ledger = await env.ledger(after.orderId);
    expect(ledger.map((entry) => `${entry.operation}:${entry.outcome}`)).toEqual([
      'authorize:succeeded',
      'capture:succeeded',
    ]);
    // The secret was read afresh once, on the refusal, not on every call.
    expect(env.providerKeyReads() - readsBefore).toBe(1);
    expect(containerPaymentGateway.built()?.breakerState()).toBe('closed');
    expect(await env.violations()).toEqual([]);
  });
});
