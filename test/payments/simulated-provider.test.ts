import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  handleProviderRequest,
  InMemoryProviderStore,
  type SimulatedProvider,
  startSimulatedProvider,
} from '../../local/payment-provider/server.js';
import { findFreePort } from '../../local/ports.js';
import {
  PaymentProviderTransientError,
  PaymentRejectedError,
  PaymentTimeoutError,
} from '../../src/payments/errors.js';
import { paymentIdempotencyKey } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway, type HttpPaymentGateway } from '../../src/payments/http-gateway.js';

const AUTH_TIMEOUT_MS = 300;

let provider: SimulatedProvider;
let gateway: HttpPaymentGateway;

beforeEach(async () => {
  provider = await startSimulatedProvider({ port: await findFreePort() });
  gateway = createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: AUTH_TIMEOUT_MS });
});

afterEach(async () => {
  await provider.close();
});

interface LedgerLine {
  operation: string;
  orderId: string;
  authorizationId: string | null;
  amountCents: number;
  outcome: string;
  idempotencyKey: string;
  at: string;
}

/** Raw HTTP against the provider, for what the gateway does not expose. */
async function call(
  method: string,
  path: string,
  options: { body?: unknown; key?: string; raw?: string } = {},
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key) headers['idempotency-key'] = options.key;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${provider.url}${path}`, { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

async function ledgerFor(orderId: string): Promise<LedgerLine[]> {
  const { json } = await call('GET', `/ledger?orderId=${encodeURIComponent(orderId)}`);
  return (json as { entries: LedgerLine[] }).entries;
}

function newOrder(paymentMethod: string, amountCents = 2500) {
  const orderId = `order-${randomUUID()}`;
  return {
    orderId,
    amountCents,
    authorize: {
      orderId,
      amountCents,
      currency: 'USD',
      paymentMethod,
      idempotencyKey: paymentIdempotencyKey(orderId, 'authorize'),
    },
  };
}

async function authorizeOk(paymentMethod: string) {
  const order = newOrder(paymentMethod);
  const outcome = await gateway.authorize(order.authorize);
  if (outcome.outcome !== 'AUTHORIZED') throw new Error(`expected AUTHORIZED, got ${outcome.outcome}`);
  return { ...order, authorizationId: outcome.authorizationId };
}

describe('test payment methods through the HTTP gateway', () => {
  test('pm_card_visa authorizes, captures and refunds', async () => {
    const order = await authorizeOk('pm_card_visa');

    const { captureId } = await gateway.capture({
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: order.amountCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    });
    const { refundId } = await gateway.refund({
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: order.amountCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'refund'),
    });

    expect(captureId).toMatch(/^cap_/);
    expect(refundId).toMatch(/^ref_/);
    const ledger = await ledgerFor(order.orderId);
    expect(ledger.map((e) => [e.operation, e.outcome, e.authorizationId, e.amountCents])).toEqual([
      ['authorize', 'succeeded', order.authorizationId, 2500],
      ['capture', 'succeeded', order.authorizationId, 2500],
      ['refund', 'succeeded', order.authorizationId, 2500],
    ]);
    expect(ledger[0]?.idempotencyKey).toBe(`${order.orderId}:authorize`);
    expect(Number.isNaN(Date.parse(ledger[0]?.at ?? ''))).toBe(false);
  });

  test('pm_card_declined is a DECLINED outcome, recorded as declined, and does not trip the breaker', async () => {
    const order = newOrder('pm_card_declined');

    const outcome = await gateway.authorize(order.authorize);

    expect(outcome).toEqual({ outcome: 'DECLINED', reason: 'card_declined' });
    const ledger = await ledgerFor(order.orderId);
    expect(ledger).toMatchObject([{ operation: 'authorize', outcome: 'declined', authorizationId: null }]);
    expect(gateway.breakerState()).toBe('closed');
  });

  test('pm_card_flaky fails transiently twice, then one retry with the same key authorizes once', async () => {
    const order = newOrder('pm_card_flaky');

    await expect(gateway.authorize(order.authorize)).rejects.toBeInstanceOf(PaymentProviderTransientError);
    await expect(gateway.authorize(order.authorize)).rejects.toBeInstanceOf(PaymentProviderTransientError);
    const outcome = await gateway.authorize(order.authorize);

    expect(outcome.outcome).toBe('AUTHORIZED');
    const ledger = await ledgerFor(order.orderId);
    expect(ledger.map((e) => e.outcome)).toEqual(['failed', 'failed', 'succeeded']);
    expect(ledger.filter((e) => e.outcome === 'succeeded')).toHaveLength(1);
  });

  test('pm_auth_timeout times out within the client timeout and a void by order id voids what was authorized', async () => {
    const order = newOrder('pm_auth_timeout');

    const started = performance.now();
    const error = await gateway.authorize(order.authorize).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    const voided = await gateway.void({
      orderId: order.orderId,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
    });

    expect(error).toBeInstanceOf(PaymentTimeoutError);
    expect(elapsed).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(AUTH_TIMEOUT_MS + 700);
    expect(voided).toEqual({ voided: true });
    const [authorized, voidEntry] = await ledgerFor(order.orderId);
    expect(authorized).toMatchObject({ operation: 'authorize', outcome: 'succeeded' });
    expect(voidEntry).toMatchObject({
      operation: 'void',
      outcome: 'succeeded',
      authorizationId: authorized?.authorizationId,
    });
  });

  test('pm_auth_timeout retried with the same key times out again without a second authorization', async () => {
    const order = newOrder('pm_auth_timeout');

    await expect(gateway.authorize(order.authorize)).rejects.toBeInstanceOf(PaymentTimeoutError);
    await expect(gateway.authorize(order.authorize)).rejects.toBeInstanceOf(PaymentTimeoutError);

    expect(await ledgerFor(order.orderId)).toHaveLength(1);
  });

  test('pm_capture_fails authorizes but every capture fails transiently and is recorded as failed', async () => {
    const order = await authorizeOk('pm_capture_fails');
    const captureInput = {
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: order.amountCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    };

    await expect(gateway.capture(captureInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);
    await expect(gateway.capture(captureInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);

    const captures = (await ledgerFor(order.orderId)).filter((e) => e.operation === 'capture');
    expect(captures.map((e) => e.outcome)).toEqual(['failed', 'failed']);
  });

  test('pm_void_fails cannot be voided until faults are cleared, and a later order fails again', async () => {
    const order = await authorizeOk('pm_void_fails');
    const voidInput = {
      orderId: order.orderId,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
    };
    await expect(
      gateway.capture({
        orderId: order.orderId,
        authorizationId: order.authorizationId,
        amountCents: order.amountCents,
        idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
      }),
    ).rejects.toBeInstanceOf(PaymentProviderTransientError);
    await expect(gateway.void(voidInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);
    await expect(gateway.void(voidInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);

    const cleared = await call('DELETE', '/control/faults');
    const voided = await gateway.void(voidInput);
    const later = await authorizeOk('pm_void_fails');
    const laterVoid = gateway.void({ orderId: later.orderId, idempotencyKey: `${later.orderId}:void` });

    expect(cleared.status).toBe(200);
    expect(voided).toEqual({ voided: true });
    await expect(laterVoid).rejects.toBeInstanceOf(PaymentProviderTransientError);
    const voids = (await ledgerFor(order.orderId)).filter((e) => e.operation === 'void');
    expect(voids.map((e) => e.outcome)).toEqual(['failed', 'failed', 'succeeded']);
  });
});

describe("retrieve: the order's payments as the provider holds them", () => {
  test('follows an authorization through capture and refund, with the capture id', async () => {
    const order = await authorizeOk('pm_card_visa');
    const authorized = await gateway.retrieve({ orderId: order.orderId });
    const { captureId } = await gateway.capture({
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: 1000,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    });
    await gateway.refund({
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: 400,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'refund'),
    });

    const refunded = await gateway.retrieve({ orderId: order.orderId });

    expect(authorized.authorizations).toEqual([
      {
        authorizationId: order.authorizationId,
        status: 'authorized',
        amountCents: 2500,
        capturedCents: 0,
        refundedCents: 0,
        captureId: null,
      },
    ]);
    expect(refunded).toEqual({
      orderId: order.orderId,
      authorizations: [
        {
          authorizationId: order.authorizationId,
          status: 'captured',
          amountCents: 2500,
          capturedCents: 1000,
          refundedCents: 400,
          captureId,
        },
      ],
    });
  });

  test('finds the authorization behind an authorize that timed out, and an unknown order has none', async () => {
    const orderId = randomUUID();
    await expect(
      gateway.authorize({
        orderId,
        amountCents: 700,
        currency: 'USD',
        paymentMethod: 'pm_auth_timeout',
        idempotencyKey: paymentIdempotencyKey(orderId, 'authorize'),
      }),
    ).rejects.toBeInstanceOf(PaymentTimeoutError);

    expect((await gateway.retrieve({ orderId })).authorizations).toMatchObject([
      { status: 'authorized', amountCents: 700 },
    ]);
    expect(await gateway.retrieve({ orderId: randomUUID() })).toMatchObject({ authorizations: [] });
  });

  test('is a read: it adds no ledger entry and an injected error makes it a transient failure', async () => {
    const order = await authorizeOk('pm_card_visa');
    const before = await ledgerFor(order.orderId);
    await gateway.retrieve({ orderId: order.orderId });
    expect(await ledgerFor(order.orderId)).toEqual(before);

    await call('POST', '/control/faults', { body: { errorRate: 1 } });
    await expect(gateway.retrieve({ orderId: order.orderId })).rejects.toBeInstanceOf(
      PaymentProviderTransientError,
    );
    expect((await call('POST', `/v1/orders/${order.orderId}/payments`)).status).toBe(405);
  });
});

describe('idempotency', () => {
  test('a replayed request returns the first status and body and adds no ledger entry', async () => {
    const { orderId, authorize } = newOrder('pm_card_visa');
    const { idempotencyKey, ...body } = authorize;

    const first = await call('POST', '/v1/authorizations', { body, key: idempotencyKey });
    const replay = await call('POST', '/v1/authorizations', { body, key: idempotencyKey });

    expect(first.status).toBe(201);
    expect(replay.status).toBe(first.status);
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await ledgerFor(orderId)).toHaveLength(1);
  });

  test('a replayed decline is the same 402 and adds no ledger entry', async () => {
    const { orderId, authorize } = newOrder('pm_card_declined');
    const { idempotencyKey, ...body } = authorize;

    const first = await call('POST', '/v1/authorizations', { body, key: idempotencyKey });
    const replay = await call('POST', '/v1/authorizations', { body, key: idempotencyKey });

    expect([first.status, replay.status]).toEqual([402, 402]);
    expect(replay.text).toBe(first.text);
    expect(await ledgerFor(orderId)).toHaveLength(1);
  });

  test('the same key with a different body is refused with 422', async () => {
    const { authorize } = newOrder('pm_card_visa');
    const { idempotencyKey, ...body } = authorize;
    await call('POST', '/v1/authorizations', { body, key: idempotencyKey });

    const reused = await call('POST', '/v1/authorizations', {
      body: { ...body, amountCents: body.amountCents + 1 },
      key: idempotencyKey,
    });

    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toBe('application/problem+json');
    expect(reused.json).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  test('a request without an Idempotency-Key header is refused with 400', async () => {
    const { authorize } = newOrder('pm_card_visa');
    const { idempotencyKey: _, ...body } = authorize;

    const response = await call('POST', '/v1/authorizations', { body });

    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ code: 'IDEMPOTENCY_KEY_REQUIRED' });
  });
});

describe('ledger rules', () => {
  test('a second capture with another key is refused with 409 and the capture replay is the first result', async () => {
    const order = await authorizeOk('pm_card_visa');
    const captureInput = {
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: order.amountCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    };
    const first = await gateway.capture(captureInput);

    const replay = await gateway.capture(captureInput);
    const second = await gateway
      .capture({ ...captureInput, idempotencyKey: `${order.orderId}:capture-again` })
      .catch((e: unknown) => e);

    expect(replay).toEqual(first);
    expect(second).toBeInstanceOf(PaymentRejectedError);
    expect(second).toMatchObject({ status: 409, code: 'ALREADY_CAPTURED' });
    const captures = (await ledgerFor(order.orderId)).filter((e) => e.operation === 'capture');
    expect(captures.map((e) => e.outcome)).toEqual(['succeeded', 'failed']);
  });

  test('capturing more than was authorized is refused with 422', async () => {
    const order = await authorizeOk('pm_card_visa');

    const error = await gateway
      .capture({
        orderId: order.orderId,
        authorizationId: order.authorizationId,
        amountCents: order.amountCents + 1,
        idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
      })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: 'PaymentRejectedError',
      status: 422,
      code: 'AMOUNT_EXCEEDS_AUTHORIZATION',
    });
  });

  test('voiding a captured authorization is refused with 409', async () => {
    const order = await authorizeOk('pm_card_visa');
    await gateway.capture({
      orderId: order.orderId,
      authorizationId: order.authorizationId,
      amountCents: order.amountCents,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
    });

    const error = await gateway
      .void({
        orderId: order.orderId,
        authorizationId: order.authorizationId,
        idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
      })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: 'PaymentRejectedError',
      status: 409,
      code: 'AUTHORIZATION_CAPTURED',
    });
  });

  test('capturing a voided authorization is refused with 409', async () => {
    const order = await authorizeOk('pm_card_visa');
    await gateway.void({
      orderId: order.orderId,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
    });

    const error = await gateway
      .capture({
        orderId: order.orderId,
        authorizationId: order.authorizationId,
        amountCents: order.amountCents,
        idempotencyKey: paymentIdempotencyKey(order.orderId, 'capture'),
      })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ status: 409, code: 'AUTHORIZATION_VOIDED' });
  });

  test('a void with nothing to void succeeds with voided false', async () => {
    const orderId = `order-${randomUUID()}`;

    const result = await gateway.void({ orderId, idempotencyKey: paymentIdempotencyKey(orderId, 'void') });

    expect(result).toEqual({ voided: false });
  });
});

describe('fault injection', () => {
  test('errorRate 1 makes every call a transient error, recorded as failed, until cleared', async () => {
    const order = newOrder('pm_card_visa');
    await call('POST', '/control/faults', { body: { errorRate: 1 } });

    const error = await gateway.authorize(order.authorize).catch((e: unknown) => e);
    await call('DELETE', '/control/faults');
    const outcome = await gateway.authorize(order.authorize);

    expect(error).toBeInstanceOf(PaymentProviderTransientError);
    expect(error).toMatchObject({ status: 503 });
    expect(outcome.outcome).toBe('AUTHORIZED');
    expect((await ledgerFor(order.orderId)).map((e) => e.outcome)).toEqual(['failed', 'succeeded']);
  });

  test('latencyMs delays every API call', async () => {
    await call('POST', '/control/faults', { body: { latencyMs: 150 } });
    const order = newOrder('pm_card_visa');

    const started = performance.now();
    await gateway.authorize(order.authorize);
    const elapsed = performance.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(145);
  });

  test('latency beyond the client timeout becomes a PaymentTimeoutError', async () => {
    await call('POST', '/control/faults', { body: { latencyMs: AUTH_TIMEOUT_MS + 200 } });

    const error = await gateway.authorize(newOrder('pm_card_visa').authorize).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentTimeoutError);
  });

  test('voidFails forces every void to fail until cleared', async () => {
    const order = await authorizeOk('pm_card_visa');
    const voidInput = {
      orderId: order.orderId,
      idempotencyKey: paymentIdempotencyKey(order.orderId, 'void'),
    };
    await call('POST', '/control/faults', { body: { voidFails: true } });

    await expect(gateway.void(voidInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);
    await call('DELETE', '/control/faults');

    await expect(gateway.void(voidInput)).resolves.toEqual({ voided: true });
  });

  test('GET /control/faults shows the current faults and DELETE clears them', async () => {
    const set = await call('POST', '/control/faults', { body: { latencyMs: 5, errorRate: 0.25 } });
    const shown = await call('GET', '/control/faults');
    const cleared = await call('DELETE', '/control/faults');

    expect(set.json).toEqual({ latencyMs: 5, errorRate: 0.25, voidFails: false });
    expect(shown.json).toEqual(set.json);
    expect(cleared.json).toEqual({ latencyMs: 0, errorRate: 0, voidFails: false });
  });

  test('the injected error rate uses the injected randomness', async () => {
    const rolls = [0.9, 0.1];
    await provider.close();
    provider = await startSimulatedProvider({ port: await findFreePort(), random: () => rolls.shift() ?? 0 });
    gateway = createHttpPaymentGateway({ baseUrl: provider.url, timeoutMs: AUTH_TIMEOUT_MS });
    await call('POST', '/control/faults', { body: { errorRate: 0.5 } });

    const first = gateway.authorize(newOrder('pm_card_visa').authorize);
    await expect(first).resolves.toMatchObject({ outcome: 'AUTHORIZED' });
    const second = gateway.authorize(newOrder('pm_card_visa').authorize);
    await expect(second).rejects.toBeInstanceOf(PaymentProviderTransientError);
  });
});

describe('request validation', () => {
  const cases: Array<[string, string, { raw?: string; body?: unknown }, string]> = [
    ['malformed JSON', '/v1/authorizations', { raw: '{"orderId":' }, 'MALFORMED_JSON'],
    ['a missing body', '/v1/authorizations', { raw: '' }, 'VALIDATION_FAILED'],
    [
      'a negative amount',
      '/v1/authorizations',
      { body: { orderId: 'o', amountCents: -1, currency: 'USD', paymentMethod: 'pm_card_visa' } },
      'VALIDATION_FAILED',
    ],
    [
      'an unknown payment method',
      '/v1/authorizations',
      { body: { orderId: 'o', amountCents: 1, currency: 'USD', paymentMethod: 'pm_nope' } },
      'VALIDATION_FAILED',
    ],
    [
      'a fractional capture amount',
      '/v1/authorizations/auth_x/capture',
      { body: { amountCents: 1.5 } },
      'VALIDATION_FAILED',
    ],
    ['a void without order id', '/v1/voids', { body: { authorizationId: 'auth_x' } }, 'VALIDATION_FAILED'],
    [
      'an unknown field',
      '/v1/refunds',
      { body: { orderId: 'o', authorizationId: 'a', amountCents: 1, x: 1 } },
      'VALIDATION_FAILED',
    ],
    ['an error rate above 1', '/control/faults', { body: { errorRate: 2 } }, 'VALIDATION_FAILED'],
  ];

  test.each(cases)('%s is a 400 problem+json without internals', async (_name, path, input, code) => {
    const response = await call('POST', path, { ...input, key: `key-${randomUUID()}` });

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.json).toMatchObject({ status: 400, code, title: 'Bad Request' });
    expect(response.json).toHaveProperty('type');
    expect(response.json).toHaveProperty('detail');
    expect(response.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack frames
  });

  test('field errors name the invalid field', async () => {
    const response = await call('POST', '/v1/authorizations', {
      body: { orderId: 'o', amountCents: 1, currency: 'usd', paymentMethod: 'pm_card_visa' },
      key: 'k',
    });

    expect(response.json?.errors).toEqual([expect.objectContaining({ field: 'currency' })]);
  });

  test('an unknown route is a 404 problem', async () => {
    const response = await call('POST', '/v1/nothing', { body: {}, key: 'k' });

    expect(response.status).toBe(404);
    expect(response.json).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('provider lifecycle', () => {
  test('GET /health answers 200', async () => {
    const response = await call('GET', '/health');

    expect(response.status).toBe(200);
  });

  test('close() ends requests held open by pm_auth_timeout', async () => {
    const { idempotencyKey, ...body } = newOrder('pm_auth_timeout').authorize;
    const held = fetch(`${provider.url}/v1/authorizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(body),
    });
    await waitFor(async () => (await provider.state.listLedgerEntries()).length === 1);

    const started = performance.now();
    await provider.close();

    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(held).rejects.toThrow();
    // afterEach closes again; make that a no-op on a fresh provider.
    provider = await startSimulatedProvider({ port: 0 });
  });

  test('the request logic runs without node:http and holds pm_auth_timeout until the signal aborts', async () => {
    const store = new InMemoryProviderStore();
    const controller = new AbortController();
    const request = {
      method: 'POST',
      path: '/v1/authorizations',
      headers: { 'idempotency-key': 'o-9:authorize' },
      body: JSON.stringify({
        orderId: 'o-9',
        amountCents: 100,
        currency: 'EUR',
        paymentMethod: 'pm_auth_timeout',
      }),
    };

    const pending = handleProviderRequest(request, { store }, controller.signal);
    await waitFor(async () => (await store.listLedgerEntries()).length === 1);
    controller.abort();
    const response = await pending;

    expect(response.status).toBe(504);
    expect(await store.listAuthorizationsForOrder('o-9')).toMatchObject([{ status: 'authorized' }]);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
