import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  PaymentCircuitOpenError,
  PaymentProviderAuthenticationError,
  PaymentProviderTransientError,
  PaymentRejectedError,
  PaymentTimeoutError,
} from '../../src/payments/errors.js';
import { type PaymentGateway, paymentIdempotencyKey } from '../../src/payments/gateway.js';
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

describe('payment gateway requests and answers on the wire', () => {
  /** A provider stand-in that records each request and answers with `answer`. */
  function recordingProvider(answer: (url: string, init: RequestInit) => Response) {
    const requests: { url: string; method: string; headers: Headers; body: unknown }[] = [];
    const fetch = vi.fn<typeof globalThis.fetch>(async (url, init = {}) => {
      requests.push({
        url: String(url),
        method: init.method ?? 'GET',
        headers: new Headers(init.headers),
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      });
      return answer(String(url), init);
    });
    return { fetch, requests };
  }
  const over = (provider: { fetch: typeof globalThis.fetch }, options: Record<string, unknown> = {}) =>
    createHttpPaymentGateway({
      baseUrl: 'http://provider.test//',
      timeoutMs: 2_000,
      fetch: provider.fetch,
      ...options,
    });

  test('each operation: its method, path and body, with the idempotency key in its header and never in the body', async () => {
    const provider = recordingProvider((url) => {
      if (url.endsWith('/capture')) return Response.json({ captureId: 'cap_1' }, { status: 201 });
      if (url.endsWith('/voids')) return Response.json({ voided: true });
      if (url.endsWith('/refunds')) return Response.json({ refundId: 'ref_1' }, { status: 201 });
      if (url.endsWith('/payments')) return Response.json({ orderId: 'o/1', authorizations: [] });
      return authorized();
    });
    const gateway = over(provider);

    const answers = [
      await gateway.authorize(authorizeInput),
      await gateway.capture({
        orderId: 'o-1',
        authorizationId: 'auth/1',
        amountCents: 900,
        idempotencyKey: 'k-capture',
      }),
      await gateway.void({ orderId: 'o-1', authorizationId: 'auth_1', idempotencyKey: 'k-void' }),
      await gateway.refund({
        orderId: 'o-1',
        authorizationId: 'auth_1',
        amountCents: 400,
        idempotencyKey: 'k-refund',
      }),
      await gateway.retrieve({ orderId: 'o/1' }),
    ];

    expect(answers).toEqual([
      { outcome: 'AUTHORIZED', authorizationId: 'auth_1' },
      { captureId: 'cap_1' },
      { voided: true },
      { refundId: 'ref_1' },
      { orderId: 'o/1', authorizations: [] },
    ]);
    expect(provider.requests.map(({ url, method, body }) => ({ url, method, body }))).toEqual([
      {
        url: 'http://provider.test/v1/authorizations',
        method: 'POST',
        body: { orderId: 'o-1', amountCents: 1000, currency: 'USD', paymentMethod: 'pm_card_visa' },
      },
      {
        url: 'http://provider.test/v1/authorizations/auth%2F1/capture',
        method: 'POST',
        body: { amountCents: 900 },
      },
      {
        url: 'http://provider.test/v1/voids',
        method: 'POST',
        body: { orderId: 'o-1', authorizationId: 'auth_1' },
      },
      {
        url: 'http://provider.test/v1/refunds',
        method: 'POST',
        body: { orderId: 'o-1', authorizationId: 'auth_1', amountCents: 400 },
      },
      { url: 'http://provider.test/v1/orders/o%2F1/payments', method: 'GET', body: undefined },
    ]);
    expect(provider.requests.map((r) => r.headers.get('idempotency-key'))).toEqual([
      'o-1:authorize',
      'k-capture',
      'k-void',
      'k-refund',
      null,
    ]);
    expect(provider.requests.map((r) => r.headers.get('content-type'))).toEqual([
      ...Array(4).fill('application/json'),
      null,
    ]);
    expect(provider.requests.every((r) => r.headers.get('authorization') === null)).toBe(true);
  });

  test('the credential goes as a bearer token on writes and reads', async () => {
    const provider = recordingProvider((url) =>
      url.endsWith('/payments') ? Response.json({ orderId: 'o-1', authorizations: [] }) : authorized(),
    );
    const refreshCredential = vi.fn(async () => 'key-2');
    const gateway = over(provider, { credential: async () => 'key-1', refreshCredential });

    await gateway.authorize(authorizeInput);
    await gateway.retrieve({ orderId: 'o-1' });

    // A credential the provider took is not read again.
    expect(refreshCredential).not.toHaveBeenCalled();

    expect(provider.requests.map((r) => r.headers.get('authorization'))).toEqual([
      'Bearer key-1',
      'Bearer key-1',
    ]);
  });

  test.each([
    401, 403,
  ])('a %i reads the credential afresh and sends the same request once more with it', async (status) => {
    let calls = 0;
    const provider = recordingProvider(() => (++calls === 1 ? Response.json({}, { status }) : authorized()));
    const gateway = over(provider, {
      credential: async () => 'old-key',
      refreshCredential: async () => 'new-key',
    });

    expect(await gateway.authorize(authorizeInput)).toEqual({
      outcome: 'AUTHORIZED',
      authorizationId: 'auth_1',
    });

    expect(provider.requests.map((r) => r.headers.get('authorization'))).toEqual([
      'Bearer old-key',
      'Bearer new-key',
    ]);
    expect(provider.requests.map((r) => r.headers.get('idempotency-key'))).toEqual([
      'o-1:authorize',
      'o-1:authorize',
    ]);
  });

  test.each([
    ['refused again after the fresh read', async () => 'new-key', 2, 403],
    ['the same key after the fresh read', async () => 'old-key', 1, 401],
    ['no way to read it afresh', undefined, 1, 401],
  ])('a credential refused with %s is PaymentProviderAuthenticationError', async (_, refreshCredential, sent, lastStatus) => {
    let calls = 0;
    const provider = recordingProvider(() =>
      Response.json({ code: 'UNAUTHORIZED' }, { status: ++calls === 1 ? 401 : 403 }),
    );
    const gateway = over(provider, {
      credential: async () => 'old-key',
      ...(refreshCredential ? { refreshCredential } : {}),
    });

    const error = await gateway.authorize(authorizeInput).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PaymentProviderAuthenticationError);
    expect(error).toMatchObject({
      status: lastStatus,
      message: `POST /v1/authorizations: the provider refused our credential (${lastStatus}), also after reading it again`,
      cause: { code: 'UNAUTHORIZED' },
    });
    expect(provider.requests).toHaveLength(sent);
  });

  test("a call takes the client timeout, or the invocation's time left less the reserve, whichever is shorter", async () => {
    const hang = vi.fn<typeof globalThis.fetch>(
      (_url, init) =>
        new Promise<Response>((_resolve, reject) =>
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true }),
        ),
    );
    const timeouts: number[] = [];
    // No invocation: the client timeout. A long invocation: the client timeout. 1,600.7 ms left
    // with 1,000 kept: 600 ms.
    for (const [timeoutMs, timeLeftMs] of [
      [100, undefined],
      [100, 60_000],
      [5_000, 1_600.7],
    ] as const) {
      const error = await createHttpPaymentGateway({
        baseUrl: 'http://provider.test',
        timeoutMs,
        deadlineReserveMs: 1_000,
        fetch: hang,
        ...(timeLeftMs === undefined ? {} : { timeLeftMs: () => timeLeftMs }),
      })
        .authorize(authorizeInput)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaymentTimeoutError);
      const allowed = (error as PaymentTimeoutError).timeoutMs;
      timeouts.push(allowed);
      expect((error as Error).message).toBe(`POST /v1/authorizations: no answer within ${allowed} ms`);
    }
    expect(timeouts).toEqual([100, 100, 600]);
  });

  test('with less left than the shortest call worth sending, nothing is sent, and the error says what was left', async () => {
    const provider = scriptedProvider();
    const read = (gateway: PaymentGateway) => gateway.retrieve({ orderId: 'o-1' });
    const write = (gateway: PaymentGateway) => gateway.authorize(authorizeInput);
    const refusals: unknown[] = [];
    for (const [timeoutMs, left, call] of [
      [15_000, 1_499.5, read],
      [300, 1_299, read],
      [300, 1_300, read],
      [15_000, 900, read],
      // A write names itself too.
      [15_000, 900, write],
    ] as const) {
      refusals.push(
        await call(
          createHttpPaymentGateway({
            baseUrl: 'http://provider.test',
            timeoutMs,
            deadlineReserveMs: 1_000,
            timeLeftMs: () => left,
            fetch: provider.fetch,
          }),
        ).then(
          () => 'sent',
          (e: Error) => e.message,
        ),
      );
    }

    // 499.5 ms for the call is under 500; with a 300 ms client timeout, 299 ms is under 300 but
    // 300 is enough. The last has nothing left at all.
    expect(refusals).toEqual([
      'GET /v1/orders/o-1/payments: not sent, 1499 ms left of the invocation and 1000 ms kept for its records',
      'GET /v1/orders/o-1/payments: not sent, 1299 ms left of the invocation and 1000 ms kept for its records',
      expect.stringContaining('unexpected response body'),
      'GET /v1/orders/o-1/payments: not sent, 900 ms left of the invocation and 1000 ms kept for its records',
      'POST /v1/authorizations: not sent, 900 ms left of the invocation and 1000 ms kept for its records',
    ]);
    expect(provider.fetch).toHaveBeenCalledTimes(1);
  });

  test('the error messages say which request, and what the provider answered', async () => {
    const messages: string[] = [];
    const causes: unknown[] = [];
    for (const answer of [
      () => new Response('{"code":"X"', { status: 500 }),
      () => new Response('', { status: 502 }),
      () => Response.json({ code: 'AMOUNT_EXCEEDS_AUTHORIZATION', detail: 'too much' }, { status: 422 }),
      () => Response.json({ code: 'NOT_FOUND' }, { status: 404 }),
      () => new Response('not json', { status: 400 }),
      () => Response.json({ captureId: '' }, { status: 201 }),
      () => Response.json({ code: 'IDEMPOTENCY_KEY_IN_USE', detail: 'busy' }, { status: 409 }),
      // Only a 2xx is read as a result, whatever its body says.
      () => Response.json({ code: 'MULTIPLE_CHOICES', captureId: 'cap_1' }, { status: 300 }),
    ]) {
      const error = await over(recordingProvider(answer))
        .capture({ orderId: 'o-1', authorizationId: 'auth_1', amountCents: 5, idempotencyKey: 'k' })
        .catch((e: Error) => e);
      messages.push(`${(error as Error).name}: ${(error as Error).message}`);
      causes.push((error as Error).cause);
    }

    const what = 'POST /v1/authorizations/auth_1/capture';
    expect(messages).toEqual([
      `PaymentProviderTransientError: ${what}: provider answered 500`,
      `PaymentProviderTransientError: ${what}: provider answered 502`,
      `PaymentRejectedError: ${what}: provider refused with 422 AMOUNT_EXCEEDS_AUTHORIZATION: too much`,
      `PaymentRejectedError: ${what}: provider refused with 404 NOT_FOUND`,
      `PaymentRejectedError: ${what}: provider refused with 400 `,
      `PaymentProviderTransientError: ${what}: unexpected response body`,
      `PaymentProviderTransientError: ${what}: provider refused with 409 IDEMPOTENCY_KEY_IN_USE: busy`,
      `PaymentRejectedError: ${what}: provider refused with 300 MULTIPLE_CHOICES`,
    ]);
    // What the provider said is kept as the cause: its JSON, its text when not JSON, nothing when empty.
    expect(causes.slice(0, 5)).toEqual([
      '{"code":"X"',
      undefined,
      { code: 'AMOUNT_EXCEEDS_AUTHORIZATION', detail: 'too much' },
      { code: 'NOT_FOUND' },
      'not json',
    ]);
    expect(causes[6]).toMatchObject({ name: 'PaymentRejectedError', code: 'IDEMPOTENCY_KEY_IN_USE' });
  });

  test('a decline without a readable reason is still a decline', async () => {
    const outcome = await over(
      recordingProvider(() => Response.json({ outcome: 'declined' }, { status: 402 })),
    ).authorize(authorizeInput);
    expect(outcome).toEqual({ outcome: 'DECLINED', reason: 'declined' });
  });

  test('a body that never ends is a timeout too', async () => {
    // Like the real fetch, the body fails once the request's signal aborts.
    const endless = vi.fn<typeof globalThis.fetch>(
      async (_url, init) =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"captureId":'));
              init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason), {
                once: true,
              });
            },
          }),
          { status: 201 },
        ),
    );
    const error = await over({ fetch: endless }, { timeoutMs: 100 })
      .capture({ orderId: 'o-1', authorizationId: 'auth_1', amountCents: 5, idempotencyKey: 'k' })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'PaymentTimeoutError', timeoutMs: 100 });
  });

  test('a provider answer of the wrong shape is the provider misbehaving, never a result', async () => {
    // A well-formed answer but for what each shape changes in it.
    const payments = (authorization: Record<string, unknown>) =>
      Response.json({
        orderId: 'o-1',
        authorizations: [
          {
            authorizationId: 'a',
            status: 'authorized',
            amountCents: 1,
            capturedCents: 0,
            refundedCents: 0,
            captureId: null,
            ...authorization,
          },
        ],
      });
    // Unchanged, it is read: each shape below fails for its own change only.
    expect(await over(recordingProvider(() => payments({}))).retrieve({ orderId: 'o-1' })).toMatchObject({
      authorizations: [{ authorizationId: 'a', status: 'authorized' }],
    });
    const shapes = [
      Response.json({ orderId: 'o-1', authorizations: [{ authorizationId: 'a', status: 'pending' }] }),
      payments({ authorizationId: '' }),
      payments({ status: 'captured', capturedCents: -1 }),
      payments({ status: 'voided', amountCents: 1.5 }),
    ];
    const errors: unknown[] = [];
    for (const shape of shapes) {
      errors.push(
        await over(recordingProvider(() => shape.clone()))
          .retrieve({ orderId: 'o-1' })
          .catch((e: unknown) => e),
      );
    }
    for (const error of errors) {
      expect(error).toBeInstanceOf(PaymentProviderTransientError);
      // The request named, the status kept, and what was wrong with the body as the cause.
      expect(error).toMatchObject({
        message: 'GET /v1/orders/o-1/payments: unexpected response body',
        status: 200,
        cause: { name: '$ZodError' },
      });
    }
  });
});

test('payment idempotency keys are stable per order and operation', () => {
  expect(paymentIdempotencyKey('o-1', 'authorize')).toBe('o-1:authorize');
  expect(paymentIdempotencyKey('o-1', 'void')).toBe(paymentIdempotencyKey('o-1', 'void'));
});
