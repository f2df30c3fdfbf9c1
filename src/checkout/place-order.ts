import { createHash } from 'node:crypto';
import type { OrderStore, PlaceOrderResult } from '../db/orders.js';
import { type CartLine, normalizeCart, type Order } from '../domain/order.js';
import { SagaStartError, type SagaStarter } from '../saga/saga-starter.js';

/** A validated checkout request of one customer (the HTTP layer validates the body). */
export interface PlaceOrderCommand {
  readonly customerId: string;
  /** The client's Idempotency-Key: together with the customer it names the order. */
  readonly idempotencyKey: string;
  readonly correlationId: string;
  readonly currency: string;
  readonly paymentMethod: string;
  readonly storeCreditCents: number;
  readonly items: readonly CartLine[];
}

type Refusal = Exclude<PlaceOrderResult, { outcome: 'PLACED' | 'ALREADY_PLACED' }>;

/**
 * What placing an order came to. Every member is a business outcome, final for this request;
 * failures worth retrying (database unreachable, saga not started) are thrown instead.
 */
export type PlaceOrderOutcome =
  | {
      readonly outcome: 'ACCEPTED';
      readonly order: Order;
      /** True when the order existed already (an earlier attempt placed it) and was picked up. */
      readonly resumed: boolean;
    }
  | Refusal
  /** The key already named an order with different contents (possible once the idempotency record expired). */
  | { readonly outcome: 'IDEMPOTENCY_KEY_REUSED'; readonly orderId: string };

export interface PlaceOrderDependencies {
  readonly orders: Pick<OrderStore, 'placeOrder' | 'getOrder'>;
  readonly sagaStarter: SagaStarter;
  /** How long stock stays reserved without the saga settling it. @default 3600 */
  readonly reservationTtlSeconds?: number;
}

/** Fixed namespace of checkout order ids (uuid v5): changing it would re-key every retry in flight. */
const ORDER_ID_NAMESPACE = Buffer.from('6f1d3b0e8a2c4d5f9e7b1a2c3d4e5f60', 'hex');

/**
 * The order id of a checkout attempt: a name-based (v5, SHA-1) uuid of the customer and the
 * Idempotency-Key. Deterministic on purpose, see {@link createPlaceOrder}.
 */
export function orderIdFor(customerId: string, idempotencyKey: string): string {
  // JSON of the pair: no separator a customer id or key could contain makes two pairs collide.
  const name = Buffer.from(JSON.stringify([customerId, idempotencyKey]), 'utf8');
  const bytes = createHash('sha1').update(ORDER_ID_NAMESPACE).update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The checkout use case: place the order (price, reserve stock, debit store credit in one
 * database call) and start its payment saga.
 *
 * Why the order id is derived from (customer, Idempotency-Key) rather than random: placing the
 * order and starting the saga are two steps that cannot share a transaction. When the saga start
 * fails, the order is already committed (PENDING, stock reserved) and the client gets a
 * retryable 503. The HTTP layer's idempotency record is only completed with a final answer, so
 * the client's retry with the same key runs this function again; with a derived id it finds the
 * order the first attempt committed and starts its saga (idempotent: the execution is named by the
 * order id), instead of placing a second order. The same holds when the idempotency record was
 * lost (result not saved, or expired after 24 h): a key can never produce two orders. If nobody
 * retries, the crash-recovery sweeper starts or compensates the PENDING order.
 */
export function createPlaceOrder(dependencies: PlaceOrderDependencies) {
  const { orders, sagaStarter } = dependencies;

  async function startSaga(order: Order, correlationId: string): Promise<void> {
    try {
      await sagaStarter.start({ orderId: order.orderId, correlationId, chargeCents: order.chargeCents });
    } catch (error) {
      if (error instanceof SagaStartError) throw error;
      throw new SagaStartError(`could not start the payment saga of order ${order.orderId}`, {
        cause: error,
      });
    }
  }

  /** An order placed by an earlier attempt with the same key. */
  async function resume(existing: Order, command: PlaceOrderCommand): Promise<PlaceOrderOutcome> {
    if (!sameRequest(existing, command)) {
      return { outcome: 'IDEMPOTENCY_KEY_REUSED', orderId: existing.orderId };
    }
    // Only a PENDING order may still lack its saga; any later status means the saga (or the
    // sweeper) has already taken it over, and starting it again would be wrong or pointless.
    if (existing.status === 'PENDING') {
      await startSaga(existing, existing.correlationId ?? command.correlationId);
    }
    return { outcome: 'ACCEPTED', order: existing, resumed: true };
  }

  return async function placeOrder(command: PlaceOrderCommand): Promise<PlaceOrderOutcome> {
    const orderId = orderIdFor(command.customerId, command.idempotencyKey);

    // Read first, not just rely on the primary key: a retry must find its order even when the
    // stock or credit the first attempt reserved is no longer available to a second placement
    // (place_order would answer OUT_OF_STOCK before ever reaching the duplicate insert).
    const existing = await orders.getOrder(orderId);
    if (existing) return resume(existing, command);

    const result = await orders.placeOrder({
      orderId,
      customerId: command.customerId,
      currency: command.currency,
      paymentMethod: command.paymentMethod,
      storeCreditCents: command.storeCreditCents,
      items: normalizeCart(command.items),
      correlationId: command.correlationId,
      ...(dependencies.reservationTtlSeconds === undefined
        ? {}
        : { reservationTtlSeconds: dependencies.reservationTtlSeconds }),
    });
    // Another attempt with the same key committed the order between our read and our insert
    // (only possible when its idempotency lock had expired): pick that order up.
    if (result.outcome === 'ALREADY_PLACED') {
      const raced = await orders.getOrder(orderId);
      if (!raced) throw new Error(`order ${orderId} was reported placed but cannot be read`);
      return resume(raced, command);
    }
    if (result.outcome !== 'PLACED') return result;
    await startSaga(result.order, command.correlationId);
    return { outcome: 'ACCEPTED', order: result.order, resumed: false };
  };
}

export type PlaceOrder = ReturnType<typeof createPlaceOrder>;

/** Whether an existing order is what the command asks for (the customer is part of the id). */
function sameRequest(order: Order, command: PlaceOrderCommand): boolean {
  if (
    order.customerId !== command.customerId ||
    order.currency !== command.currency ||
    order.paymentMethod !== command.paymentMethod ||
    order.storeCreditCents !== command.storeCreditCents
  ) {
    return false;
  }
  const wanted = normalizeCart(command.items);
  const placed = normalizeCart(order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })));
  return (
    wanted.length === placed.length &&
    wanted.every(
      (line, index) => line.sku === placed[index]?.sku && line.quantity === placed[index]?.quantity,
    )
  );
}
