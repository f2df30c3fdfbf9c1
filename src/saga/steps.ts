import type { OrderStore } from '../db/orders.js';
import { IllegalTransitionError, OrderNotFoundError } from '../domain/errors.js';
import type { Order } from '../domain/order.js';
import { PaymentDeclinedError } from '../payments/errors.js';
import {
  type PaymentGateway,
  type ProviderPaymentState,
  paymentIdempotencyKey,
} from '../payments/gateway.js';
import { NO_FAULTS, type SideEffectFaults } from './faults.js';

/** What every step receives: the order and the correlation id that follows it everywhere. */
export interface StepInput {
  readonly orderId: string;
  readonly correlationId: string;
}

export interface SagaDependencies {
  readonly orders: OrderStore;
  readonly payments: PaymentGateway;
  /** Fault injection between a provider side effect and its record; tests and local mode only. */
  readonly faults?: SideEffectFaults;
}

/** The compensation steps, in the order they run; the compensation queue carries the ones left. */
export const COMPENSATION_STEPS = [
  'REVERSE_PAYMENT',
  'RELEASE_RESERVATIONS',
  'REFUND_STORE_CREDIT',
  'CANCEL_ORDER',
] as const;
export type CompensationStep = (typeof COMPENSATION_STEPS)[number];

/** What reversing a payment did at the provider. */
export type ReversalAction = 'VOIDED' | 'REFUNDED' | 'NONE';

/** Payment statuses with nothing left at the provider to undo. */
const SETTLED_PAYMENTS = new Set(['NOT_REQUIRED', 'DECLINED', 'VOIDED', 'REFUNDED']);

/**
 * The saga's steps, shared by the Step Functions task handlers, the compensation worker and the
 * sweeper. Each is safe to run again, also after a crash between a provider call and its record:
 * the provider sees the same idempotency key (`{orderId}:{operation}`) on every retry and replays
 * its first answer, so a retried step finds its own side effect and records it; the database
 * transitions are guarded and idempotent; and reversing a payment decides from what the provider
 * reports, never from the last row this service managed to write (docs/architecture.md).
 */
export class PaymentSaga {
  private readonly faults: SideEffectFaults;

  constructor(private readonly deps: SagaDependencies) {
    this.faults = deps.faults ?? NO_FAULTS;
  }

  /**
   * Authorizes the order's card charge and records the authorization (order AUTHORIZED). A decline
   * is recorded and ends the step with {@link PaymentDeclinedError}, which the state machine routes
   * into compensation without retrying.
   */
  async authorizePayment({ orderId, correlationId }: StepInput): Promise<{ authorizationId: string }> {
    const order = await this.order(orderId);
    const { status, authorizationId } = order.payment;
    // Re-invoked after the authorization was recorded: answer from the record, call nobody.
    if ((status === 'AUTHORIZED' || status === 'CAPTURED') && authorizationId) {
      return { authorizationId };
    }
    if (status === 'DECLINED') throw new PaymentDeclinedError(orderId, 'previously declined');
    if (order.status !== 'PENDING' || status !== 'PENDING') {
      throw new IllegalTransitionError(orderId, 'authorize payment of', order.status, {
        paymentStatus: status,
      });
    }
    const outcome = await this.deps.payments.authorize({
      orderId,
      amountCents: order.chargeCents,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      idempotencyKey: paymentIdempotencyKey(orderId, 'authorize'),
    });
    if (outcome.outcome === 'DECLINED') {
      await this.deps.orders.recordPaymentOutcome(orderId, 'DECLINED', correlationId);
      throw new PaymentDeclinedError(orderId, outcome.reason);
    }
    this.faults.afterSideEffect('authorize', orderId);
    await this.deps.orders.markAuthorized(orderId, outcome.authorizationId, correlationId);
    return { authorizationId: outcome.authorizationId };
  }

  /**
   * Captures the authorized amount, records the capture and confirms the order (its reservations
   * are committed). A retry after the capture succeeded gets the provider's replayed capture and
   * records it; a retry after the record goes straight to confirming.
   */
  async capturePayment({ orderId, correlationId }: StepInput): Promise<{ captureId: string | null }> {
    const order = await this.order(orderId);
    if (order.status === 'CONFIRMED') return { captureId: null };
    let captureId: string | null = null;
    if (order.payment.status !== 'CAPTURED') {
      const authorizationId = order.payment.authorizationId;
      if (order.payment.status !== 'AUTHORIZED' || !authorizationId) {
        throw new IllegalTransitionError(orderId, 'capture payment of', order.status, {
          paymentStatus: order.payment.status,
        });
      }
      ({ captureId } = await this.deps.payments.capture({
        orderId,
        authorizationId,
        amountCents: order.chargeCents,
        idempotencyKey: paymentIdempotencyKey(orderId, 'capture'),
      }));
      this.faults.afterSideEffect('capture', orderId);
      await this.deps.orders.markCaptured(orderId, captureId, correlationId);
    }
    await this.deps.orders.confirm(orderId, correlationId);
    return { captureId };
  }

  /** Confirms an order that needs no card payment (store credit paid all of it). */
  async confirmOrder({ orderId, correlationId }: StepInput): Promise<void> {
    await this.deps.orders.confirm(orderId, correlationId);
  }

  /**
   * Undoes the card payment as the provider reports it: voids what is still only authorized
   * (also an authorization this service never heard of because authorize timed out) and refunds
   * what was captured (also a capture whose record failed). Then records the outcome.
   */
  async reversePayment({ orderId, correlationId }: StepInput): Promise<{ action: ReversalAction }> {
    const order = await this.order(orderId);
    // A confirmed order is never compensated: refunding it here would take the money of a sale.
    if (order.status === 'CONFIRMED') {
      throw new IllegalTransitionError(orderId, 'reverse payment of', order.status);
    }
    if (SETTLED_PAYMENTS.has(order.payment.status)) return { action: 'NONE' };

    const state = await this.deps.payments.retrieve({ orderId });
    for (const authorization of state.authorizations) {
      if (authorization.status === 'authorized') {
        await this.deps.payments.void({
          orderId,
          authorizationId: authorization.authorizationId,
          idempotencyKey: paymentIdempotencyKey(orderId, 'void'),
        });
        this.faults.afterSideEffect('void', orderId);
      }
      const refundable = authorization.capturedCents - authorization.refundedCents;
      if (authorization.status === 'captured' && refundable > 0) {
        await this.deps.payments.refund({
          orderId,
          authorizationId: authorization.authorizationId,
          amountCents: refundable,
          idempotencyKey: paymentIdempotencyKey(orderId, 'refund'),
        });
        this.faults.afterSideEffect('refund', orderId);
      }
    }
    const action = wasCaptured(state) ? 'REFUNDED' : 'VOIDED';
    await this.deps.orders.recordPaymentOutcome(orderId, action, correlationId);
    return { action };
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

  /** The provider's current state of the order's payment, for operators and the audit trail. */
  paymentState(orderId: string): Promise<ProviderPaymentState> {
    return this.deps.payments.retrieve({ orderId });
  }

  private async order(orderId: string): Promise<Order> {
    const order = await this.deps.orders.getOrder(orderId);
    if (!order) throw new OrderNotFoundError(orderId);
    return order;
  }
}

/** Whether any money of the order was ever captured: then its reversal is a refund. */
function wasCaptured(state: ProviderPaymentState): boolean {
  return state.authorizations.some((a) => a.capturedCents > 0);
}
