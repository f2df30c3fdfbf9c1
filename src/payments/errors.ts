/**
 * Payment gateway errors. Their `name` is part of the contract: the payment saga's Step Functions
 * `Retry`/`Catch` match on it, so rename one only together with `statemachines/payment-saga.asl.json`.
 *
 * Retryable: {@link PaymentProviderTransientError}, {@link PaymentTimeoutError},
 * {@link PaymentCircuitOpenError}, {@link PaymentProviderAuthenticationError} (an operator fixes
 * the key). Not retryable: {@link PaymentRejectedError}.
 * A decline is not an error of the gateway: `authorize` returns `{ outcome: 'DECLINED' }`, and the
 * saga's AuthorizePayment task records it and ends with {@link PaymentDeclinedError}.
 */

/**
 * The card was declined: a business outcome, recorded on the order, never retried. The task ends
 * with this error so that the state machine's Catch routes the order into compensation.
 */
export class PaymentDeclinedError extends Error {
  override readonly name = 'PaymentDeclinedError';
  constructor(
    readonly orderId: string,
    readonly reason: string,
  ) {
    super(`the payment of order ${orderId} was declined (${reason})`);
  }
}

/** The provider answered 5xx or could not be reached. Safe to retry with the same idempotency key. */
export class PaymentProviderTransientError extends Error {
  override readonly name = 'PaymentProviderTransientError';
  /** HTTP status when the provider answered; undefined on network failures. */
  readonly status: number | undefined;

  constructor(message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/**
 * The provider did not answer within the client-side timeout. The outcome is unknown: the
 * operation may have happened, so retry with the same key or compensate (void by order id).
 */
export class PaymentTimeoutError extends Error {
  override readonly name = 'PaymentTimeoutError';
  readonly timeoutMs: number;

  constructor(message: string, options: ErrorOptions & { timeoutMs: number }) {
    super(message, options);
    this.timeoutMs = options.timeoutMs;
  }
}

/**
 * The provider refused our credential (401 or 403), and again after the secret was read afresh:
 * the key in Secrets Manager is not one the provider accepts (a rotation half done, or a wrong
 * key). Our configuration, not an outage: the circuit breaker never counts it, and it says nothing
 * about the payment. Retried while an operator puts the right key (docs/runbooks/payment-provider-outage.md).
 */
export class PaymentProviderAuthenticationError extends Error {
  override readonly name = 'PaymentProviderAuthenticationError';
  readonly status: number;

  constructor(message: string, options: ErrorOptions & { status: number }) {
    super(message, options);
    this.status = options.status;
  }
}

/** The circuit breaker is open: the call failed fast without reaching the provider. Retry later. */
export class PaymentCircuitOpenError extends Error {
  override readonly name = 'PaymentCircuitOpenError';
}

/** The provider refused the request (4xx other than a decline). Retrying the same request cannot help. */
export class PaymentRejectedError extends Error {
  override readonly name = 'PaymentRejectedError';
  readonly status: number;
  /** The provider's machine-readable problem code, when it sent one. */
  readonly code: string | undefined;

  constructor(message: string, options: ErrorOptions & { status: number; code?: string }) {
    super(message, options);
    this.status = options.status;
    this.code = options.code;
  }
}
