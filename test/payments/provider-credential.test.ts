import { afterEach, describe, expect, test } from 'vitest';
import { type SimulatedProvider, startSimulatedProvider } from '../../local/payment-provider/server.js';
import { findFreePort } from '../../local/ports.js';
import { PaymentProviderAuthenticationError, PaymentTimeoutError } from '../../src/payments/errors.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';

const KEY = 'provider-test-credential-0123456789';

const authorizeInput = (orderId: string) => ({
  orderId,
  amountCents: 1000,
  currency: 'USD',
  paymentMethod: 'pm_card_visa',
  idempotencyKey: `${orderId}:authorize`,
});

describe('the provider credential', () => {
  let provider: SimulatedProvider | undefined;
  afterEach(async () => {
    await provider?.close();
    provider = undefined;
  });

  async function start(scope: 'all' | 'payments') {
    provider = await startSimulatedProvider({ port: await findFreePort(), credential: { key: KEY, scope } });
    return provider;
  }

  const get = async (url: string, authorization?: string) =>
    (await fetch(url, authorization ? { headers: { authorization } } : {})).status;

  test('as deployed (scope all): every route refuses a caller without it, or with another one', async () => {
    const { url } = await start('all');

    const statuses = {
      ledger: await get(`${url}/ledger`),
      faults: await get(`${url}/control/faults`),
      health: await get(`${url}/health`),
      wrongKey: await get(`${url}/ledger`, 'Bearer not-the-key'),
      rightKey: await get(`${url}/ledger`, `Bearer ${KEY}`),
    };

    expect(statuses).toEqual({ ledger: 401, faults: 401, health: 401, wrongKey: 401, rightKey: 200 });
  });

  test('the gateway sends it on every call, so payments go through; without it the provider refuses', async () => {
    const { url } = await start('all');
    const withKey = createHttpPaymentGateway({ baseUrl: url, credential: async () => KEY });
    const withoutKey = createHttpPaymentGateway({ baseUrl: url });

    const authorized = await withKey.authorize(authorizeInput('o-credential-1'));
    const refused = await withoutKey
      .authorize(authorizeInput('o-credential-2'))
      .catch((error: Error) => error);

    expect(authorized).toMatchObject({ outcome: 'AUTHORIZED' });
    // A wrong or missing credential is our configuration, never a refused payment nor an outage.
    expect(refused).toBeInstanceOf(PaymentProviderAuthenticationError);
    const { entries } = (await (
      await fetch(`${url}/ledger`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as { entries: { orderId: string }[] };
    expect(entries.map((entry) => entry.orderId)).toEqual(['o-credential-1']);
  });

  test('locally (scope payments): payment routes need it, the ledger and fault controls stay open', async () => {
    const { url } = await start('payments');

    const ledger = await get(`${url}/ledger`);
    const payment = await fetch(`${url}/v1/authorizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
      body: JSON.stringify(authorizeInput('o-credential-3')),
    });

    expect(ledger).toBe(200);
    expect(payment.status).toBe(401);
    expect(await payment.json()).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  test('a key rotated at the provider: the refused call reads the credential afresh once and goes through', async () => {
    const { url } = await start('payments');
    let current = KEY;
    let refreshes = 0;
    const gateway = createHttpPaymentGateway({
      baseUrl: url,
      breaker: { failureThreshold: 1 },
      credential: async () => KEY, // the cached key, never updated
      refreshCredential: async () => {
        refreshes += 1;
        return current;
      },
    });
    current = 'provider-test-credential-rotated';
    provider?.rotateCredential(current);

    const outcome = await gateway.authorize(authorizeInput('o-credential-4'));

    expect(outcome).toMatchObject({ outcome: 'AUTHORIZED' });
    expect(refreshes).toBe(1);
    expect(gateway.breakerState()).toBe('closed');
  });

  test('a key refused again after the fresh read is PaymentProviderAuthenticationError, never counted by the breaker', async () => {
    const { url } = await start('payments');
    const gateway = createHttpPaymentGateway({
      baseUrl: url,
      breaker: { failureThreshold: 1 },
      credential: async () => 'an-old-key',
      refreshCredential: async () => 'still-not-the-key',
    });

    const errors = [
      await gateway.authorize(authorizeInput('o-credential-5')).catch((error: Error) => error),
      await gateway.authorize(authorizeInput('o-credential-6')).catch((error: Error) => error),
    ];

    // With a threshold of one, a counted failure would have opened the circuit before the second call.
    expect(errors.map((error) => (error as Error).name)).toEqual([
      'PaymentProviderAuthenticationError',
      'PaymentProviderAuthenticationError',
    ]);
    expect(gateway.breakerState()).toBe('closed');
  });
});

describe("provider calls inside the invocation's time (docs/adr/0020)", () => {
  let provider: SimulatedProvider | undefined;
  afterEach(async () => {
    await provider?.close();
    provider = undefined;
  });

  test('a call gets at most the time left minus what the records after it need', async () => {
    provider = await startSimulatedProvider({ port: await findFreePort() });
    await fetch(`${provider.url}/control/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 10_000 }),
    });
    const gateway = createHttpPaymentGateway({
      baseUrl: provider.url,
      timeoutMs: 15_000,
      deadlineReserveMs: 1_000,
      timeLeftMs: () => 1_600,
    });

    const error = await gateway.authorize(authorizeInput('o-deadline-1')).catch((caught: Error) => caught);

    expect(error).toBeInstanceOf(PaymentTimeoutError);
    expect((error as PaymentTimeoutError).timeoutMs).toBe(600);
  });

  test('with no time left for the call and its records, nothing is sent and the breaker counts nothing', async () => {
    provider = await startSimulatedProvider({ port: await findFreePort() });
    const gateway = createHttpPaymentGateway({
      baseUrl: provider.url,
      breaker: { failureThreshold: 1 },
      deadlineReserveMs: 7_000,
      timeLeftMs: () => 7_200,
    });

    const error = await gateway.authorize(authorizeInput('o-deadline-2')).catch((caught: Error) => caught);

    expect(error).toMatchObject({ name: 'PaymentTimeoutError', timeoutMs: 0 });
    expect(
      ((await (await fetch(`${provider.url}/ledger`)).json()) as { entries: unknown[] }).entries,
    ).toEqual([]);
    expect(gateway.breakerState()).toBe('closed');
  });
});
