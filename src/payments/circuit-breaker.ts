import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type IBreaker,
} from 'cockatiel';
import { PaymentCircuitOpenError, PaymentProviderTransientError, PaymentTimeoutError } from './errors.js';

/** What health checks report. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface PaymentBreakerOptions {
  /** Consecutive failures (transient errors and timeouts) that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long the circuit stays open before a probe may go through. @default 60_000 */
  halfOpenAfterMs?: number;
  /** Successful calls in a row needed, once half-open, to close the circuit. @default 2 */
  successThreshold?: number;
}

/**
 * Cockatiel 3.2.1 closes a half-open circuit after ONE successful probe: `CircuitBreakerPolicy`
 * calls `close()` itself and an `IBreaker` only gets `success(state)` with no say in it. docs/adr/0006
 * wants two successes, so this breaker keeps a "recovering" phase after cockatiel has closed:
 * until `successThreshold - 1` more calls have succeeded, the first failure re-opens the circuit
 * (as a failure in half-open would) instead of counting towards the consecutive threshold.
 * Failure counting in the closed state is cockatiel's own `ConsecutiveBreaker`.
 *
 * One difference from a native half-open state: cockatiel admits a single probe at a time, while
 * the later recovering calls may run concurrently. For a payment provider that is harmless.
 */
export class RecoveringConsecutiveBreaker implements IBreaker {
  private readonly consecutive: ConsecutiveBreaker;
  private successesStillNeeded = 0;

  constructor(
    failureThreshold: number,
    private readonly successThreshold: number,
  ) {
    this.consecutive = new ConsecutiveBreaker(failureThreshold);
  }

  /** True between cockatiel closing the circuit and enough successes to trust it. */
  get recovering(): boolean {
    return this.successesStillNeeded > 0;
  }

  /** Serialisable state, for cockatiel's `toJSON` / `initialState`. */
  get state(): { consecutiveFailures: number; successesStillNeeded: number } {
    return { consecutiveFailures: this.consecutive.state, successesStillNeeded: this.successesStillNeeded };
  }

  set state(value: { consecutiveFailures: number; successesStillNeeded: number }) {
    this.consecutive.state = value.consecutiveFailures;
    this.successesStillNeeded = value.successesStillNeeded;
  }

  success(state: CircuitState): void {
    this.consecutive.success();
    if (state === CircuitState.HalfOpen) {
      // The probe was the first success; cockatiel is about to close the circuit.
      this.successesStillNeeded = this.successThreshold - 1;
    } else if (this.successesStillNeeded > 0) {
      this.successesStillNeeded--;
    }
  }

  failure(state: CircuitState): boolean {
    if (state === CircuitState.HalfOpen || this.recovering) {
      this.successesStillNeeded = 0;
      this.consecutive.success(); // start counting afresh once the circuit closes again
      return true;
    }
    return this.consecutive.failure();
  }
}

/** One circuit breaker around every call a gateway instance makes to the provider. */
export interface PaymentCircuitBreaker {
  /** Runs `call` through the breaker; throws {@link PaymentCircuitOpenError} when open. */
  execute<T>(call: () => Promise<T>): Promise<T>;
  state(): BreakerState;
}

/**
 * Builds the payment circuit breaker (docs/adr/0006: opens after 5 consecutive failures, probes
 * after 60 s, closes after 2 successes). Only {@link PaymentProviderTransientError} and
 * {@link PaymentTimeoutError} count as failures; the caller returns declines and rejections as
 * values so they count as successes: the provider answered, so it is up.
 *
 * Time comes from `Date.now()` (cockatiel reads it directly), so tests drive the breaker with
 * `vi.useFakeTimers({ toFake: ['Date'] })`.
 */
export function createPaymentCircuitBreaker(options: PaymentBreakerOptions = {}): PaymentCircuitBreaker {
  const { failureThreshold = 5, halfOpenAfterMs = 60_000, successThreshold = 2 } = options;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
    throw new RangeError(`failureThreshold must be a positive integer, got ${failureThreshold}`);
  }
  if (!Number.isInteger(successThreshold) || successThreshold < 1) {
    throw new RangeError(`successThreshold must be a positive integer, got ${successThreshold}`);
  }
  const breaker = new RecoveringConsecutiveBreaker(failureThreshold, successThreshold);
  const policy: CircuitBreakerPolicy = circuitBreaker(
    handleWhen(
      (error) => error instanceof PaymentProviderTransientError || error instanceof PaymentTimeoutError,
    ),
    { halfOpenAfter: halfOpenAfterMs, breaker },
  );

  return {
    async execute<T>(call: () => Promise<T>): Promise<T> {
      try {
        return await policy.execute(call);
      } catch (error) {
        // IsolatedCircuitError extends BrokenCircuitError, so a manually held circuit maps here too.
        if (error instanceof BrokenCircuitError) {
          throw new PaymentCircuitOpenError('payment provider circuit is open; failing fast', {
            cause: error,
          });
        }
        throw error;
      }
    },
    state(): BreakerState {
      switch (policy.state) {
        case CircuitState.Closed:
          return breaker.recovering ? 'half-open' : 'closed';
        case CircuitState.HalfOpen:
          return 'half-open';
        default:
          return 'open';
      }
    },
  };
}
