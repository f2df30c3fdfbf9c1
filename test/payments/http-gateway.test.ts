import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  PaymentCircuitOpenError,
  PaymentProviderTransientError,
  PaymentRejectedError,
  PaymentTimeoutError,
} from '../../src/payments/errors.js';
import { paymentIdempotencyKey } from '../../src/payments/gateway.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';

/** A provider stand-in whose next answer the test chooses. */
function scriptedProvider() {
  let answer: () => Response | Promise<Response> = () => authorized();
  const fetch = vi.fn<typeof globalThis.fetch>(
    (_url, init) =>
      new Promise<Response>((resolve, reject) => {
        // Like the real fetch, give up when the signal (the client timeout) aborts.
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
        Promise.resolve().then(answer).then(resolve, reject);
      }),
  );
  return {
    fetch,
    answerWith(next: () => Response | Promise<Response>) {
      answer = next;
    },
  };
}

const authorized = () => Response.json({ outcome: 'authorized', authorizationId: 'auth_1' }, { status: 201 });
const declined = () => Response.json({ outcome: 'declined', reason: 'card_declined' }, { status: 402 });
const unavailable = () => Response.json({ code: 'PROVIDER_UNAVAILABLE' }, { status: 503 });
const badRequest = () =>
  Response.json({ code: 'VALIDATION_FAILED', detail: 'request body is invalid' }, { status: 400 });

const authorizeInput = {
  orderId: 'o-1',
  amountCents: 1000,
  currency: 'USD',
  paymentMethod: 'pm_card_visa',
  idempotencyKey: 'o-1:authorize',
};

function gatewayOver(provider: ReturnType<typeof scriptedProvider>, halfOpenAfterMs = 60_000) {
  return createHttpPaymentGateway({
    baseUrl: 'http://provider.test',
    timeoutMs: 50,
    breaker: { halfOpenAfterMs },
    fetch: provider.fetch,
  });
}

async function failTimes(gateway: ReturnType<typeof gatewayOver>, times: number) {
  for (let i = 0; i < times; i++) {
    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);
  }
}

describe('payment gateway circuit breaker', () => {
  beforeEach(() => {
    // Cockatiel reads Date.now(); only Date is faked so AbortSignal.timeout keeps real time.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('five consecutive transient failures open it and the sixth call fails fast without fetch', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);

    await failTimes(gateway, 5);
    const sixth = gateway.authorize(authorizeInput);

    await expect(sixth).rejects.toBeInstanceOf(PaymentCircuitOpenError);
    expect(provider.fetch).toHaveBeenCalledTimes(5);
    expect(gateway.breakerState()).toBe('open');
  });

  test('four failures do not open it', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);

    await failTimes(gateway, 4);

    expect(gateway.breakerState()).toBe('closed');
  });

  test('timeouts count as failures', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(() => new Promise<Response>(() => {})); // never answers

    for (let i = 0; i < 5; i++) {
      await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentTimeoutError);
    }

    expect(gateway.breakerState()).toBe('open');
  });

  test('after the half-open delay a probe reaches the provider', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);
    await failTimes(gateway, 5);
    provider.answerWith(authorized);

    vi.advanceTimersByTime(59_999);
    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentCircuitOpenError);
    vi.advanceTimersByTime(1);
    const probe = await gateway.authorize(authorizeInput);

    expect(probe).toEqual({ outcome: 'AUTHORIZED', authorizationId: 'auth_1' });
    expect(provider.fetch).toHaveBeenCalledTimes(6);
    expect(gateway.breakerState()).toBe('half-open');
  });

  test('two successes in half-open close it', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);
    await failTimes(gateway, 5);
    vi.advanceTimersByTime(60_000);
    provider.answerWith(authorized);

    await gateway.authorize(authorizeInput);
    await gateway.authorize(authorizeInput);

    expect(gateway.breakerState()).toBe('closed');
    // Closed again means back to counting five consecutive failures.
    provider.answerWith(unavailable);
    await failTimes(gateway, 4);
    expect(gateway.breakerState()).toBe('closed');
  });

  test('a failed probe re-opens it for another half-open delay', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);
    await failTimes(gateway, 5);
    vi.advanceTimersByTime(60_000);

    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);

    expect(gateway.breakerState()).toBe('open');
    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentCircuitOpenError);
    expect(provider.fetch).toHaveBeenCalledTimes(6);
  });

  test('a failure after only one half-open success re-opens it', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(unavailable);
    await failTimes(gateway, 5);
    vi.advanceTimersByTime(60_000);
    provider.answerWith(authorized);
    await gateway.authorize(authorizeInput);

    provider.answerWith(unavailable);
    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentProviderTransientError);

    expect(gateway.breakerState()).toBe('open');
    await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentCircuitOpenError);
  });

  test('the half-open delay is configurable', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider, 1_000);
    provider.answerWith(unavailable);
    await failTimes(gateway, 5);
    provider.answerWith(authorized);

    vi.advanceTimersByTime(1_000);

    await expect(gateway.authorize(authorizeInput)).resolves.toMatchObject({ outcome: 'AUTHORIZED' });
  });

  test('declines do not trip it and count as the provider being up', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(declined);
    for (let i = 0; i < 10; i++) {
      await expect(gateway.authorize(authorizeInput)).resolves.toMatchObject({ outcome: 'DECLINED' });
    }
    provider.answerWith(unavailable);
    await failTimes(gateway, 4);
    provider.answerWith(declined);
    await gateway.authorize(authorizeInput);
    provider.answerWith(unavailable);

    await failTimes(gateway, 4);

    expect(gateway.breakerState()).toBe('closed');
  });

  test('rejections (4xx) do not trip it', async () => {
    const provider = scriptedProvider();
    const gateway = gatewayOver(provider);
    provider.answerWith(badRequest);

    for (let i = 0; i < 10; i++) {
      await expect(gateway.authorize(authorizeInput)).rejects.toBeInstanceOf(PaymentRejectedError);
    }

    expect(gateway.breakerState()).toBe('closed');
  });
});

describe('payment gateway error mapping', () => {
  test('a 402 is a DECLINED outcome with the provider reason', async () => {
    const provider = scriptedProvider();
    provider.answerWith(declined);

    const outcome = await gatewayOver(provider).authorize(authorizeInput);

    expect(outcome).toEqual({ outcome: 'DECLINED', reason: 'card_declined' });
  });

  test('a 5xx is a retryable transient error carrying the status', async () => {
    const provider = scriptedProvider();
    provider.answerWith(unavailable);

    const error = await gatewayOver(provider)
      .authorize(authorizeInput)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentProviderTransientError);
    expect(error).toMatchObject({ name: 'PaymentProviderTransientError', status: 503 });
  });

  test('a network failure is a transient error with the cause attached', async () => {
    const provider = scriptedProvider();
    const networkError = new TypeError('fetch failed');
    provider.answerWith(() => {
      throw networkError;
    });

    const error = await gatewayOver(provider)
      .authorize(authorizeInput)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentProviderTransientError);
    expect((error as Error).cause).toBe(networkError);
  });

  test('a 4xx other than 402 is a non-retryable rejection with the problem code', async () => {
    const provider = scriptedProvider();
    provider.answerWith(badRequest);

    const error = await gatewayOver(provider)
      .authorize(authorizeInput)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentRejectedError);
    expect(error).toMatchObject({ name: 'PaymentRejectedError', status: 400, code: 'VALIDATION_FAILED' });
  });

  test('a 409 for a key still in flight is retryable, not a rejection', async () => {
    const provider = scriptedProvider();
    provider.answerWith(() => Response.json({ code: 'IDEMPOTENCY_KEY_IN_USE' }, { status: 409 }));

    const error = await gatewayOver(provider)
      .authorize(authorizeInput)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentProviderTransientError);
    expect(error).toMatchObject({ status: 409 });
  });

  test('no answer within the timeout is a PaymentTimeoutError', async () => {
    const provider = scriptedProvider();
    provider.answerWith(() => new Promise<Response>(() => {}));

    const error = await gatewayOver(provider)
      .authorize(authorizeInput)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentTimeoutError);
    expect(error).toMatchObject({ name: 'PaymentTimeoutError', timeoutMs: 50 });
  });

  test('the idempotency key travels in the Idempotency-Key header', async () => {
    const provider = scriptedProvider();

    await gatewayOver(provider).authorize(authorizeInput);

    const init = provider.fetch.mock.calls[0]?.[1];
    expect(new Headers(init?.headers).get('idempotency-key')).toBe('o-1:authorize');
  });
});

test('payment idempotency keys are stable per order and operation', () => {
  expect(paymentIdempotencyKey('o-1', 'authorize')).toBe('o-1:authorize');
  expect(paymentIdempotencyKey('o-1', 'void')).toBe(paymentIdempotencyKey('o-1', 'void'));
});
