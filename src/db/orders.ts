import postgres, { type Sql } from 'postgres';
import {
  CompensationIncompleteError,
  IllegalTransitionError,
  OrderFencedError,
  OrderNotFoundError,
  ReservationReleasedError,
} from '../domain/errors.js';
import { type CartLine, normalizeCart, type Order, type OrderStatus } from '../domain/order.js';
import { query, toDatabaseError } from './errors.js';

export interface PlaceOrderInput {
  /** Chosen by the caller so a retried request can be traced to one order id. */
  readonly orderId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly paymentMethod: string;
  readonly storeCreditCents: number;
  readonly items: readonly CartLine[];
  readonly correlationId: string;
  /**
   * How long the stock stays reserved without the saga confirming or releasing it; after that the
   * sweeper may release it.
   * @default 3600
   */
  readonly reservationTtlSeconds?: number;
}

export interface ShortLine {
  readonly sku: string;
  readonly requested: number;
  readonly available: number;
}

/** Business outcomes of placing an order; anything else is an exception (a transient failure). */
export type PlaceOrderResult =
  | { readonly outcome: 'PLACED'; readonly order: Order }
  /** An order with this id exists already: another attempt with the same key placed it first. */
  | { readonly outcome: 'ALREADY_PLACED' }
  | { readonly outcome: 'UNKNOWN_SKU'; readonly skus: string[] }
  | { readonly outcome: 'CURRENCY_MISMATCH'; readonly skus: string[] }
  | { readonly outcome: 'OUT_OF_STOCK'; readonly lines: ShortLine[] }
  | { readonly outcome: 'STORE_CREDIT_EXCEEDS_TOTAL'; readonly totalCents: number }
  | { readonly outcome: 'INSUFFICIENT_STORE_CREDIT'; readonly balanceCents: number };

/**
 * {@link OrderStore.placeOrFindOrder}'s outcomes: those of placing, or the order that exists under
 * this id already (an earlier attempt with the same key placed it), found before anything was checked.
 */
export type PlaceOrFindResult = PlaceOrderResult | { readonly outcome: 'EXISTS'; readonly order: Order };

/**
 * What a payment step reads before calling the provider (migrations/0015, `payment_step_view`):
 * the order's state, fence and payment, without its items.
 */
export type PaymentView = Pick<
  Order,
  'orderId' | 'status' | 'currency' | 'chargeCents' | 'paymentMethod' | 'payment' | 'fenced'
>;

/** What a state transition did: `changed` is false when it had been applied before. */
export interface TransitionResult {
  readonly changed: boolean;
  readonly status: OrderStatus;
}

/** What fencing an order found: `fenced` is false only for an order confirmed before the fence. */
export interface FenceResult extends TransitionResult {
  readonly fenced: boolean;
}

export type PaymentReversal = 'DECLINED' | 'VOIDED' | 'REFUNDED';

export interface RequiresAttentionInput {
  readonly orderId: string;
  readonly compensationId: string;
  /** The compensation steps still to do, as sent to the compensation queue. */
  readonly steps: readonly string[];
  readonly error: string;
  /** Why the order is being cancelled; the compensation worker needs it to finish the job. */
  readonly cancellationReason: string;
  readonly correlationId: string;
}

/** What an order function answers (`transition_result`, migrations/0002_order_functions.sql). */
type RawTransition = {
  status: OrderStatus | null;
  paymentStatus?: string;
  /** Refused because compensation of the order has begun (migrations/0013_compensation_fence.sql). */
  fenced?: boolean;
} & (
  | { outcome: 'APPLIED' | 'UNCHANGED' | 'ILLEGAL_TRANSITION' | 'NOT_FOUND' | 'RESERVATION_RELEASED' }
  /** `cancel_order` names what is still held, always at least one thing. */
  | { outcome: 'COMPENSATION_INCOMPLETE'; outstanding: string[] }
);

const DEFAULT_RESERVATION_TTL_SECONDS = 3600;
/** Raised by place_order when the stock went between its check and its reservation (migrations 0006, 0009). */
const OUT_OF_STOCK_SQLSTATE = 'CK409';
const UNIQUE_VIOLATION_SQLSTATE = '23505';

/**
 * The order data layer. Every write is a single call of a database function (see
 * migrations/0002_order_functions.sql): one round trip and one transaction whatever the cart
 * size, with row locks taken in a fixed order and never held across a network round trip.
 * Every transition is guarded by the order's state and safe to apply twice.
 */
export class OrderStore {
  constructor(private readonly sql: Sql) {}

  /** Validates SKUs, prices from the database, reserves stock, debits store credit, records the order. */
  placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
    // place_order itself never answers EXISTS.
    return this.place('place_order', input) as Promise<PlaceOrderResult>;
  }

  /**
   * The checkout's one round trip (migrations/0015): answers the order that exists under
   * `input.orderId` as `EXISTS`, else places it as {@link placeOrder} does. Two attempts racing to
   * place the same new order still meet at the primary key: the loser gets `ALREADY_PLACED`.
   */
  placeOrFindOrder(input: PlaceOrderInput): Promise<PlaceOrFindResult> {
    return this.place('place_or_find_order', input);
  }

  private async place(
    fn: 'place_order' | 'place_or_find_order',
    input: PlaceOrderInput,
  ): Promise<PlaceOrFindResult> {
    try {
      return await this.callPlaceOrder(fn, input);
    } catch (error) {
      // Stock taken by a concurrent checkout after place_order's unlocked check: the call rolled
      // back whole and reports the short lines, the same refusal as before any write.
      if (error instanceof postgres.PostgresError && error.code === OUT_OF_STOCK_SQLSTATE) {
        return { outcome: 'OUT_OF_STOCK', lines: JSON.parse(error.detail ?? '[]') as ShortLine[] };
      }
      if (
        error instanceof postgres.PostgresError &&
        error.code === UNIQUE_VIOLATION_SQLSTATE &&
        error.constraint_name === 'orders_pkey'
      ) {
        return { outcome: 'ALREADY_PLACED' };
      }
      throw toDatabaseError(error);
    }
  }

  private async callPlaceOrder(
    fn: 'place_order' | 'place_or_find_order',
    input: PlaceOrderInput,
  ): Promise<PlaceOrFindResult> {
    const cart = normalizeCart(input.items);
    const ttl = `${input.reservationTtlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS} seconds`;
    // The function's name is one of two constants, quoted as an identifier.
    const [row] = await this.sql<{ result: PlaceOrFindResult }[]>`
      select ${this.sql(fn)}(
        ${input.orderId}::uuid,
        ${input.customerId},
        ${input.currency},
        ${input.paymentMethod},
        ${input.storeCreditCents}::bigint,
        ${cart.map((line) => line.sku)}::text[],
        ${cart.map((line) => line.quantity)}::integer[],
        ${ttl}::interval,
        ${input.correlationId}
      ) as result
    `;
    return (row as { result: PlaceOrFindResult }).result;
  }

  async getOrder(orderId: string): Promise<Order | undefined> {
    const [row] = await query(this.sql<{ order: Order | null }[]>`
      select order_snapshot(${orderId}::uuid) as order
    `);
    return row?.order ?? undefined;
  }

  /** The order as a payment step needs it, or undefined when there is none. */
  async getPaymentView(orderId: string): Promise<PaymentView | undefined> {
    const [row] = await query(this.sql<{ view: PaymentView | null }[]>`
      select payment_step_view(${orderId}::uuid) as view
    `);
    return row?.view ?? undefined;
  }

  /**
   * Fences the order before compensation reverses anything: from then on it can no longer be
   * authorized, have a capture recorded or be confirmed. Idempotent. An order confirmed before the
   * fence is left as it is and answered `fenced: false`.
   */
  async fence(orderId: string, correlationId: string): Promise<FenceResult> {
    const [row] = await query(this.sql<{ result: RawTransition }[]>`
      select fence_order(${orderId}::uuid, ${correlationId}) as result
    `);
    const result = (row as { result: RawTransition }).result;
    if (result.outcome === 'NOT_FOUND') throw new OrderNotFoundError(orderId);
    return {
      changed: result.outcome === 'APPLIED',
      status: result.status as OrderStatus,
      fenced: result.fenced === true,
    };
  }

  markAuthorized(orderId: string, authorizationId: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'mark authorized',
      this.sql`select mark_authorized(${orderId}::uuid, ${authorizationId}, ${correlationId}) as result`,
    );
  }

  markCaptured(orderId: string, captureId: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'mark captured',
      this.sql`select mark_captured(${orderId}::uuid, ${captureId}, ${correlationId}) as result`,
    );
  }

  /**
   * Records the capture and confirms the order in one call and one transaction (migrations/0015):
   * what {@link markCaptured} then {@link confirm} did in two. A refused confirmation (fenced,
   * reservation released) still leaves the capture recorded, as the two calls did; a refused
   * capture record confirms nothing. Errors name the part that refused.
   */
  async captureAndConfirm(
    orderId: string,
    captureId: string,
    correlationId: string,
  ): Promise<TransitionResult> {
    const [row] = await query(this.sql<{ result: RawTransition & { step?: 'capture' | 'confirm' } }[]>`
      select capture_and_confirm(${orderId}::uuid, ${captureId}, ${correlationId}) as result
    `);
    const result = (row as { result: RawTransition & { step?: string } }).result;
    return interpret(orderId, result.step === 'capture' ? 'mark captured' : 'confirm', result);
  }

  /** Records that the payment was declined, voided or refunded at the provider. */
  recordPaymentOutcome(
    orderId: string,
    outcome: PaymentReversal,
    correlationId: string,
  ): Promise<TransitionResult> {
    return this.transition(
      orderId,
      `mark payment ${outcome.toLowerCase()}`,
      this.sql`select record_payment_outcome(${orderId}::uuid, ${outcome}, ${correlationId}) as result`,
    );
  }

  /** Commits the reservations (stock leaves on hand) and moves the order to CONFIRMED. */
  confirm(orderId: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'confirm',
      this.sql`select confirm_order(${orderId}::uuid, ${correlationId}) as result`,
    );
  }

  releaseReservations(orderId: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'release reservations of',
      this.sql`select release_reservations(${orderId}::uuid, ${correlationId}) as result`,
    );
  }

  refundStoreCredit(orderId: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'refund store credit of',
      this.sql`select refund_store_credit(${orderId}::uuid, ${correlationId}) as result`,
    );
  }

  /** Cancels a fully compensated order; refused while stock, credit or payment is still held. */
  cancel(orderId: string, reason: string, correlationId: string): Promise<TransitionResult> {
    return this.transition(
      orderId,
      'cancel',
      this.sql`select cancel_order(${orderId}::uuid, ${reason}, ${correlationId}) as result`,
    );
  }

  /** Parks the order for operators and records the failed compensation in the audit table. */
  markRequiresAttention(input: RequiresAttentionInput): Promise<TransitionResult> {
    return this.transition(
      input.orderId,
      'mark requires attention',
      this.sql`
        select mark_requires_attention(
          ${input.orderId}::uuid,
          ${input.compensationId},
          ${this.sql.json([...input.steps])},
          ${input.error},
          ${input.cancellationReason},
          ${input.correlationId}
        ) as result
      `,
    );
  }

  private async transition(
    orderId: string,
    transition: string,
    statement: PromiseLike<readonly { result: RawTransition }[]>,
  ): Promise<TransitionResult> {
    const [row] = await query(statement);
    return interpret(orderId, transition, (row as { result: RawTransition }).result);
  }
}

/** A transition function's answer as a result, or the error of its refusal. */
function interpret(orderId: string, transition: string, result: RawTransition): TransitionResult {
  switch (result.outcome) {
    case 'APPLIED':
    case 'UNCHANGED':
      return { changed: result.outcome === 'APPLIED', status: result.status as OrderStatus };
    case 'NOT_FOUND':
      throw new OrderNotFoundError(orderId);
    case 'COMPENSATION_INCOMPLETE':
      throw new CompensationIncompleteError(orderId, result.outstanding);
    case 'RESERVATION_RELEASED':
      throw new ReservationReleasedError(orderId);
    case 'ILLEGAL_TRANSITION': {
      if (result.fenced) throw new OrderFencedError(orderId, transition, result.status);
      const detail = result.paymentStatus ? { paymentStatus: result.paymentStatus } : {};
      throw new IllegalTransitionError(orderId, transition, result.status, detail);
    }
  }
}
