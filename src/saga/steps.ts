import type { OrderStore, PaymentView } from '../db/orders.js';
import { IllegalTransitionError, OrderFencedError, OrderNotFoundError } from '../domain/errors.js';
import type { OrderStatus } from '../domain/order.js';
import { PaymentDeclinedError } from '../payments/errors.js';
import {
  type PaymentGateway,
  type ProviderPaymentState,
  paymentIdempotencyKey,
} from '../payments/gateway.js';
import { COMPENSATION_STEPS, type CompensationStep } from './compensation-message.js';

/** What every step receives: the order and the correlation id that follows it everywhere. */
export interface StepInput {
  readonly orderId: string;
  readonly correlationId: string;
}

export interface SagaDependencies {
  readonly orders: OrderStore;
  readonly payments: PaymentGateway;
}

export { COMPENSATION_STEPS, type CompensationStep };

/** What reversing a payment did at the provider. */
export type ReversalAction = 'VOIDED' | 'REFUNDED' | 'NONE';

/**
 * Whether the provider can hold nothing more for this payment, so reversing it need not ask. The
 * authorize key is `{orderId}:authorize` and the provider replays its first answer, so an order has
 * at most one authorization: a decline can never turn into one, and a refunded capture or a void of
 * the authorization this service recorded leaves nothing behind. A void recorded without an
 * authorization id is different: compensation found nothing at the provider, and an authorize call
 * still in flight may land after it (docs/architecture.md, "The compensation fence"), so that
 * payment is asked about again.
 */
function settledAtProvider(payment: PaymentView['payment']): boolean {
  switch (payment.status) {
    case 'NOT_REQUIRED':
    case 'DECLINED':
    case 'REFUNDED':
      return true;
    case 'VOIDED':
      return payment.authorizationId !== null;
    default:
      return false;
  }
}

/**
 * The saga's steps, shared by the Step Functions task handlers, the compensation worker and the
 * sweeper. Each is safe to run again, also after a crash between a provider call and its record:
 * the provider sees the same idempotency key (`{orderId}:{operation}`) on every retry and replays
 * its first answer, so a retried step finds its own side effect and records it; the database
 * transitions are guarded and idempotent; and reversing a payment decides from what the provider
 * reports, never from the last row this service managed to write (docs/architecture.md).
 */
export class PaymentSaga {
  constructor(private readonly deps: SagaDependencies) {}

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
    // Started after compensation fenced the order: call nobody.
    if (order.fenced) throw new OrderFencedError(orderId, 'authorize payment of', order.status);
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
    await this.unlessFenced({ orderId, correlationId }, () =>
      this.deps.orders.markAuthorized(orderId, outcome.authorizationId, correlationId),
    );
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
    // Started after compensation fenced the order: call nobody.
    if (order.fenced) throw new OrderFencedError(orderId, 'capture payment of', order.status);
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
      const capture = captureId;
      // The capture's record and the confirmation in one round trip (migrations/0015).
      await this.unlessFenced({ orderId, correlationId }, () =>
        this.deps.orders.captureAndConfirm(orderId, capture, correlationId),
      );
      return { captureId };
    }
    // The capture is recorded but the order not confirmed: the confirmation was refused on an
    // earlier try, or a release before 0015 recorded the two apart.
    await this.unlessFenced({ orderId, correlationId }, () =>
      this.deps.orders.confirm(orderId, correlationId),
    );
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
    // Never reverse an unfenced order: an execution started on an earlier version of the state
    // machine reaches this step with no FenceOrder before it.
    if (!order.fenced) await this.fenceForCompensation({ orderId, correlationId });
    if (settledAtProvider(order.payment)) return { action: 'NONE' };

    const state = await this.deps.payments.retrieve({ orderId });
    for (const authorization of state.authorizations) {
      if (authorization.status === 'authorized') {
        await this.deps.payments.void({
          orderId,
          authorizationId: authorization.authorizationId,
          idempotencyKey: paymentIdempotencyKey(orderId, 'void'),
        });
      }
      const refundable = authorization.capturedCents - authorization.refundedCents;
      if (authorization.status === 'captured' && refundable > 0) {
        await this.deps.payments.refund({
          orderId,
          authorizationId: authorization.authorizationId,
          amountCents: refundable,
          idempotencyKey: paymentIdempotencyKey(orderId, 'refund'),
        });
      }
    }
    const action = wasCaptured(state) ? 'REFUNDED' : 'VOIDED';
    await this.deps.orders.recordPaymentOutcome(orderId, action, correlationId);
    return { action };
  }

  /**
   * The first step of compensation: fences the order, so that nothing authorizes, captures or
   * confirms it from now on (a late invocation of a payment step that meets the fence reverses its
   * own side effect). Answers the order's status: CONFIRMED means the order was confirmed before
   * the fence, a sale that is not compensated.
   */
  async fenceOrder({ orderId, correlationId }: StepInput): Promise<{ status: OrderStatus }> {
    const { status } = await this.deps.orders.fence(orderId, correlationId);
    return { status };
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

  /**
   * Parks the order for operators. Answers the order's status: CANCELLED when the compensation
   * worker finished the job first, which the state machine ends on as a cancellation, not a failure.
   */
  async markRequiresAttention(
    input: StepInput & {
      compensationId: string;
      steps: readonly string[];
      error: string;
      cancellationReason: string;
    },
  ): Promise<{ status: OrderStatus }> {
    const { status } = await this.deps.orders.markRequiresAttention(input);
    return { status };
  }

  /**
   * Fences the order, then runs the given compensation steps in {@link COMPENSATION_STEPS} order
   * (the compensation worker for what the saga left, the sweeper for an order whose saga died).
   * Each step is idempotent, so steps that already ran are no-ops. `onStepDone` hears of each
   * finished step, so a caller that must queue the rest knows what is left.
   */
  async compensate(
    input: StepInput & { steps: readonly CompensationStep[]; reason: string },
    onStepDone: (step: CompensationStep) => void = () => {},
  ): Promise<void> {
    await this.fenceForCompensation(input);
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
      onStepDone(step);
    }
  }

  /** The provider's current state of the order's payment, for operators and the audit trail. */
  paymentState(orderId: string): Promise<ProviderPaymentState> {
    return this.deps.payments.retrieve({ orderId });
  }

  /** Fences the order for compensation; a confirmed order is a sale and is refused. */
  private async fenceForCompensation(input: StepInput): Promise<void> {
    const { status } = await this.fenceOrder(input);
    if (status === 'CONFIRMED') throw new IllegalTransitionError(input.orderId, 'compensate', status);
  }

  /**
   * Records a payment step's side effect, unless compensation fenced the order after this step
   * read it: then the side effect came too late, and the step reverses it itself, as compensation
   * would (asking the provider, with the stable keys `{orderId}:void` and `{orderId}:refund`, so
   * it and compensation never do it twice), and ends with {@link OrderFencedError}. Compensation
   * may have asked the provider before this side effect landed and found nothing to reverse; this
   * is what undoes it then (docs/architecture.md, "The compensation fence").
   */
  private async unlessFenced(input: StepInput, record: () => Promise<unknown>): Promise<void> {
    try {
      await record();
    } catch (error) {
      if (!(error instanceof OrderFencedError)) throw error;
      try {
        await this.reversePayment(input);
      } catch (reversalError) {
        // The provider is away. Compensation, still running or queued, asks it again; a reversal
        // that only this step could have made is the window docs/architecture.md describes.
        throw new OrderFencedError(input.orderId, error.transition, error.status, { cause: reversalError });
      }
      throw error;
    }
  }

  /** The payment steps' read: the order's state, fence and payment, not its items (migrations/0015). */
  private async order(orderId: string): Promise<PaymentView> {
    const order = await this.deps.orders.getPaymentView(orderId);
    if (!order) throw new OrderNotFoundError(orderId);
    return order;
  }
}

/** Whether any money of the order was ever captured: then its reversal is a refund. */
function wasCaptured(state: ProviderPaymentState): boolean {
  return state.authorizations.some((a) => a.capturedCents > 0);
}
