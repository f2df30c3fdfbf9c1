/**
 * The payment port. The saga's Lambda functions depend on this interface only; the shipped
 * adapter talks HTTP to the simulated provider (`http-gateway.ts`).
 *
 * Every operation takes an idempotency key that must be stable for the order and operation
 * (see {@link paymentIdempotencyKey}), so a retried call can never charge twice.
 */

/** The operations a key can be derived for. */
export type PaymentOperation = 'authorize' | 'capture' | 'void' | 'refund';

/** Result of an authorization. A decline is a business outcome, not an error. */
export type AuthorizeOutcome =
  | { outcome: 'AUTHORIZED'; authorizationId: string }
  | { outcome: 'DECLINED'; reason: string };

export interface AuthorizeInput {
  orderId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  idempotencyKey: string;
}

export interface CaptureInput {
  orderId: string;
  authorizationId: string;
  amountCents: number;
  idempotencyKey: string;
}

export interface VoidInput {
  orderId: string;
  /** Absent after an authorize timeout: the outcome is unknown, so the provider voids by order id. */
  authorizationId?: string;
  idempotencyKey: string;
}

export interface RefundInput {
  orderId: string;
  authorizationId: string;
  amountCents: number;
  idempotencyKey: string;
}

/** One authorization of an order, as the provider holds it now. */
export interface ProviderAuthorization {
  readonly authorizationId: string;
  readonly status: 'authorized' | 'captured' | 'voided';
  readonly amountCents: number;
  readonly capturedCents: number;
  readonly refundedCents: number;
  readonly captureId: string | null;
}

/** What the provider reports for an order: the source of truth for money. */
export interface ProviderPaymentState {
  readonly orderId: string;
  readonly authorizations: readonly ProviderAuthorization[];
}

/**
 * Port to the payment provider. Implementations throw the errors of `errors.ts`:
 * transient, timeout and circuit-open errors are retryable, rejections are not.
 */
export interface PaymentGateway {
  authorize(input: AuthorizeInput): Promise<AuthorizeOutcome>;
  capture(input: CaptureInput): Promise<{ captureId: string }>;
  /** `voided` is false when the provider had nothing to void for the order. */
  void(input: VoidInput): Promise<{ voided: boolean }>;
  refund(input: RefundInput): Promise<{ refundId: string }>;
  /** The order's authorizations and what was captured and refunded of each (like Stripe's retrieve). */
  retrieve(input: { orderId: string }): Promise<ProviderPaymentState>;
}

/**
 * The idempotency key for one operation on one order: `${orderId}:${operation}`.
 * Stable on purpose: every retry of the same step must send the same key.
 */
export function paymentIdempotencyKey(orderId: string, operation: PaymentOperation): string {
  return `${orderId}:${operation}`;
}
