import type { OrderStore } from '../db/orders.js';
import { IllegalTransitionError, OrderNotFoundError } from '../domain/errors.js';
import type { Order } from '../domain/order.js';
import { type PaymentGateway, paymentIdempotencyKey } from '../payments/gateway.js';

/** What every step receives: the order and the correlation id that follows it everywhere. */
export interface StepInput {
  readonly orderId: string;
  readonly correlationId: string;
}

export interface SagaDependencies {
  readonly orders: OrderStore;
  readonly payments: PaymentGateway;
}

/** The compensation steps, in the order they run; the compensation queue carries the ones left. */
export const COMPENSATION_STEPS = [
  'REVERSE_PAYMENT',
  'RELEASE_RESERVATIONS',
  'REFUND_STORE_CREDIT',
  'CANCEL_ORDER',
] as const;
export type CompensationStep = (typeof COMPENSATION_STEPS)[number];

export type AuthorizationResult =
  | { readonly outcome: 'AUTHORIZED'; readonly authorizationId: string }
  | { readonly outcome: 'DECLINED'; readonly reason: string };

/**
 * The saga's steps, shared by the Step Functions task handlers and the compensation worker.
 * Each is safe to run again: the provider sees the same idempotency key (`{orderId}:{operation}`)
 * on every retry, and the database transitions are guarded and idempotent.
 */
export class PaymentSaga {
  constructor(private readonly deps: SagaDependencies) {}

  /** Asks the provider to authorize the order's card charge. A decline is a result, not an error. */
  async authorizePayment({ orderId }: StepInput): Promise<AuthorizationResult> {
    const order = await this.order(orderId);
    const { status, authorizationId } = order.payment;
    // Re-invoked after the authorization was recorded: answer from the record, call nobody.
    if ((status === 'AUTHORIZED' || status === 'CAPTURED') && authorizationId) {
      return { outcome: 'AUTHORIZED', authorizationId };
    }
    if (status === 'DECLINED') return { outcome: 'DECLINED', reason: 'previously declined' };
    if (order.status !== 'PENDING' || status !== 'PENDING') {
      throw new IllegalTransitionError(orderId, 'authorize payment of', order.status, {
        paymentStatus: status,
      });
    }
    return this.deps.payments.authorize({
      orderId,
      amountCents: order.chargeCents,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      idempotencyKey: paymentIdempotencyKey(orderId, 'authorize'),
    });
  }

  async markPaymentDeclined({ orderId, correlationId }: StepInput): Promise<void> {
    await this.deps.orders.recordPaymentOutcome(orderId, 'DECLINED', correlationId);
  }

  async markAuthorized({ orderId, correlationId, authorizationId }: StepInput & { authorizationId: string }) {
    await this.deps.orders.markAuthorized(orderId, authorizationId, correlationId);
  }

  /** Captures the authorized amount and records the capture; a replayed capture is answered by the provider. */
  async capturePayment({ orderId, correlationId }: StepInput): Promise<{ captureId: string | null }> {
    const order = await this.order(orderId);
    if (order.payment.status === 'CAPTURED') return { captureId: null };
    const authorizationId = order.payment.authorizationId;
    if (order.payment.status !== 'AUTHORIZED' || !authorizationId) {
      throw new IllegalTransitionError(orderId, 'capture payment of', order.status, {
        paymentStatus: order.payment.status,
      });
    }
    const { captureId } = await this.deps.payments.capture({
      orderId,
      authorizationId,
      amountCents: order.chargeCents,
      idempotencyKey: paymentIdempotencyKey(orderId, 'capture'),
    });
    await this.deps.orders.markCaptured(orderId, captureId, correlationId);
    return { captureId };
  }

  async confirmOrder({ orderId, correlationId }: StepInput): Promise<void> {
    await this.deps.orders.confirm(orderId, correlationId);
  }

  /**
   * Undoes the card payment: voids an authorization — also one whose outcome is unknown because
   * authorize timed out (the provider voids by order id) — or refunds a capture.
   */
  async reversePayment({
    orderId,
    correlationId,
  }: StepInput): Promise<{ action: 'VOIDED' | 'REFUNDED' | 'NONE' }> {
    const order = await this.order(orderId);
    // A confirmed order is never compensated: refunding it here would take the money of a sale.
    if (order.status === 'CONFIRMED') {
      throw new IllegalTransitionError(orderId, 'reverse payment of', order.status);
    }
    const { status, authorizationId } = order.payment;
    switch (status) {
      case 'PENDING':
      case 'AUTHORIZED':
        await this.deps.payments.void({
          orderId,
          ...(authorizationId ? { authorizationId } : {}),
          idempotencyKey: paymentIdempotencyKey(orderId, 'void'),
        });
        await this.deps.orders.recordPaymentOutcome(orderId, 'VOIDED', correlationId);
        return { action: 'VOIDED' };
      case 'CAPTURED':
        await this.deps.payments.refund({
          orderId,
          authorizationId: authorizationId as string,
          amountCents: order.chargeCents,
          idempotencyKey: paymentIdempotencyKey(orderId, 'refund'),
        });
        await this.deps.orders.recordPaymentOutcome(orderId, 'REFUNDED', correlationId);
        return { action: 'REFUNDED' };
      default:
        // NOT_REQUIRED, DECLINED, VOIDED, REFUNDED: nothing is held at the provider.
        return { action: 'NONE' };
    }
  }

  async releaseReservations({ orderId, correlationId }: StepInput): Promise<void> {
    await this.deps.orders.releaseReservations(orderId, correlationId);
  }

  async refundStoreCredit({ orderId, correlationId }: StepInput): Promise<void> {
    await this.deps.orders.refundStoreCredit(orderId, correlationId);
  }

  async cancelOrder({ orderId, correlationId, reason }: StepInput & { reason: string }): Promise<void> {
    await this.deps.orders.cancel(orderId, reason, correlationId);
  }

  async markRequiresAttention(
    input: StepInput & {
      compensationId: string;
      steps: readonly string[];
      error: string;
      cancellationReason: string;
    },
  ): Promise<void> {
    await this.deps.orders.markRequiresAttention(input);
  }

  /** Runs compensation steps in order; used by the compensation worker for what the saga left. */
  async compensate(input: StepInput & { steps: readonly CompensationStep[]; reason: string }): Promise<void> {
    for (const step of COMPENSATION_STEPS.filter((s) => input.steps.includes(s))) {
      switch (step) {
        case 'REVERSE_PAYMENT':
          await this.reversePayment(input);
          break;
        case 'RELEASE_RESERVATIONS':
          await this.releaseReservations(input);
          break;
        case 'REFUND_STORE_CREDIT':
          await this.refundStoreCredit(input);
          break;
        case 'CANCEL_ORDER':
          await this.cancelOrder(input);
          break;
      }
    }
  }

  private async order(orderId: string): Promise<Order> {
    const order = await this.deps.orders.getOrder(orderId);
    if (!order) throw new OrderNotFoundError(orderId);
    return order;
  }
}
