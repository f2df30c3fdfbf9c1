import { BrokenCircuitError, CircuitState, circuitBreaker, handleAll } from 'cockatiel';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  createPaymentCircuitBreaker,
  RecoveringConsecutiveBreaker,
} from '../../src/payments/circuit-breaker.js';
import {
  PaymentCircuitOpenError,
  PaymentProviderTransientError,
  PaymentRejectedError,
} from '../../src/payments/errors.js';

/**
 * The breaker on its own (docs/adr/0006); test/payments/http-gateway.test.ts drives it through the
 * gateway. Cockatiel reads Date.now(), so only Date is faked.
 */
describe('payment circuit breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const failing = () => Promise.reject(new PaymentProviderTransientError('provider answered 503'));

  test('refuses thresholds that are not positive integers, naming the value', () => {
    expect(() => createPaymentCircuitBreaker({ failureThreshold: 0 })).toThrow(
      new RangeError('failureThreshold must be a positive integer, got 0'),
    );
    expect(() => createPaymentCircuitBreaker({ failureThreshold: 2.5 })).toThrow(RangeError);
    expect(() => createPaymentCircuitBreaker({ successThreshold: 0 })).toThrow(
      new RangeError('successThreshold must be a positive integer, got 0'),
    );
    expect(() => createPaymentCircuitBreaker({ successThreshold: Number.NaN })).toThrow(RangeError);
  });

  test('a threshold of one is allowed: the first failure opens it, the first success after the probe closes it', async () => {
    const breaker = createPaymentCircuitBreaker({
      failureThreshold: 1,
      successThreshold: 1,
      halfOpenAfterMs: 1_000,
    });

    await expect(breaker.execute(failing)).rejects.toThrow('503');
    const afterOneFailure = breaker.state();
    vi.advanceTimersByTime(1_000);
    await breaker.execute(async () => 'probe');

    expect(afterOneFailure).toBe('open');
    expect(breaker.state()).toBe('closed');
  });

  test('only transient errors and timeouts count: other errors pass through and never open it', async () => {
    const breaker = createPaymentCircuitBreaker({ failureThreshold: 2 });
    const rejected = new PaymentRejectedError('provider answered 400', { status: 400 });

    for (let i = 0; i < 5; i++) {
      await expect(breaker.execute(() => Promise.reject(rejected))).rejects.toBe(rejected);
      await expect(breaker.execute(() => Promise.reject(new Error('a bug')))).rejects.toThrow('a bug');
    }

    expect(breaker.state()).toBe('closed');
  });

  test('an open circuit fails fast with PaymentCircuitOpenError, which says so and carries the cause', async () => {
    const breaker = createPaymentCircuitBreaker({ failureThreshold: 1 });
    await expect(breaker.execute(failing)).rejects.toThrow('503');
    const call = vi.fn(async () => 'not sent');

    const refused = breaker.execute(call);

    await expect(refused).rejects.toBeInstanceOf(PaymentCircuitOpenError);
    await expect(refused).rejects.toMatchObject({
      message: 'payment provider circuit is open; failing fast',
      cause: expect.any(BrokenCircuitError),
    });
    expect(call).not.toHaveBeenCalled();
  });

  test('while the probe is in flight it reports half-open and holds a second call until the probe answered', async () => {
    const breaker = createPaymentCircuitBreaker({ failureThreshold: 2, halfOpenAfterMs: 1_000 });
    for (let i = 0; i < 2; i++) await expect(breaker.execute(failing)).rejects.toThrow('503');
    vi.advanceTimersByTime(1_000);
    let answer: (value: string) => void = () => {};
    const secondCall = vi.fn(async () => 'second');

    const probe = breaker.execute(
      () =>
        new Promise<string>((resolve) => {
          answer = resolve;
        }),
    );
    const inFlight = breaker.state();
    const second = breaker.execute(secondCall);
    await new Promise((resolve) => setImmediate(resolve));
    const heldWhileProbing = secondCall.mock.calls.length === 0;
    answer('probe');

    expect(inFlight).toBe('half-open');
    expect(heldWhileProbing).toBe(true);
    await expect(probe).resolves.toBe('probe');
    await expect(second).resolves.toBe('second');
    // Two successes after the open circuit: closed and trusted again.
    expect(breaker.state()).toBe('closed');
  });

  test("its state survives cockatiel's serialisation: a restored breaker one failure short opens on the next", async () => {
    const breaker = new RecoveringConsecutiveBreaker(3, 2);
    const before = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker });
    for (let i = 0; i < 2; i++) await expect(before.execute(failing)).rejects.toThrow('503');

    const restored = circuitBreaker(handleAll, {
      halfOpenAfter: 60_000,
      breaker: new RecoveringConsecutiveBreaker(3, 2),
      initialState: before.toJSON(),
    });
    await expect(restored.execute(failing)).rejects.toThrow('503');

    expect(breaker.state).toEqual({ consecutiveFailures: 2, successesStillNeeded: 0 });
    expect(restored.state).toBe(CircuitState.Open);
  });

  test('the state it serialises stays exact through a failed probe and a recovery: counts start afresh, never below zero', async () => {
    const breaker = new RecoveringConsecutiveBreaker(2, 2);
    const policy = circuitBreaker(handleAll, { halfOpenAfter: 1_000, breaker });
    const succeed = async () => 'ok';
    await policy.execute(succeed);
    const afterSuccessWhileClosed = breaker.state;
    for (let i = 0; i < 2; i++) await expect(policy.execute(failing)).rejects.toThrow('503');
    vi.advanceTimersByTime(1_000);

    await expect(policy.execute(failing)).rejects.toThrow('503');
    const afterFailedProbe = breaker.state;
    vi.advanceTimersByTime(1_000);
    await policy.execute(succeed);
    const recovering = breaker.state;
    await policy.execute(succeed);

    expect(afterSuccessWhileClosed).toEqual({ consecutiveFailures: 0, successesStillNeeded: 0 });
    expect(afterFailedProbe).toEqual({ consecutiveFailures: 0, successesStillNeeded: 0 });
    expect(recovering).toEqual({ consecutiveFailures: 0, successesStillNeeded: 1 });
    expect(breaker.state).toEqual({ consecutiveFailures: 0, successesStillNeeded: 0 });
  });
});
