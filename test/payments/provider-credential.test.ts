import { afterEach, describe, expect, test } from 'vitest';
import { type SimulatedProvider, startSimulatedProvider } from '../../local/payment-provider/server.js';
import { findFreePort } from '../../local/ports.js';
import { PaymentProviderTransientError } from '../../src/payments/errors.js';
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
    // A wrong or missing credential is an outage of ours, retried, never a refused payment.
    expect(refused).toBeInstanceOf(PaymentProviderTransientError);
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
});
