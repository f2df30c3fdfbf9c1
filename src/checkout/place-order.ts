import { createHash } from 'node:crypto';
import type { OrderStore, PlaceOrderResult } from '../db/orders.js';
import { type CartLine, normalizeCart, type Order } from '../domain/order.js';
import { logger } from '../runtime/observability.js';
import type { SagaStartBuffer, SagaStarter } from '../saga/saga-starter.js';

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
 * How the saga of an accepted order was started: `STARTED` by this request (or found started),
 * `BUFFERED` on the saga-start queue because the start failed or was throttled, `DEFERRED` to the
 * sweeper because even the queue could not be written. Not part of the answer, which is the same
 * 202 in every case (docs/adr/0019); `NOT_NEEDED` for a picked-up order past PENDING.
 */
export type SagaStartOutcome = 'STARTED' | 'BUFFERED' | 'DEFERRED' | 'NOT_NEEDED';

/**
 * What placing an order came to. Every member is a business outcome, final for this request;
 * failures worth retrying (database unreachable) are thrown instead. Once the order is committed
 * the outcome is ACCEPTED, whatever happens to the start of its saga.
 */
export type PlaceOrderOutcome =
  | {
      readonly outcome: 'ACCEPTED';
      readonly order: Order;
      /** True when the order existed already (an earlier attempt placed it) and was picked up. */
      readonly resumed: boolean;
      readonly sagaStart: SagaStartOutcome;
    }
  | Refusal
  /** The key already named an order with different contents (possible once the idempotency record expired). */
  | { readonly outcome: 'IDEMPOTENCY_KEY_REUSED'; readonly orderId: string };

export interface PlaceOrderDependencies {
  readonly orders: Pick<OrderStore, 'placeOrFindOrder' | 'getOrder'>;
  /** One short attempt at StartExecution (no long retry ladder on the request path). */
  readonly sagaStarter: SagaStarter;
  /** Where a start that failed or was throttled waits to be made (the saga-start queue). */
  readonly sagaStartBuffer: SagaStartBuffer;
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
 * Once the order is committed the answer is ACCEPTED, whatever happens to the saga's start
 * (docs/adr/0019): placing the order and starting the saga are two steps that cannot share a
 * transaction, and a client told "failed" for a committed order would be charged anyway when the
 * start is retried behind its back. So the start is tried once, briefly; when it fails or is
 * throttled it is handed to the saga-start queue, whose starter makes it within seconds at a rate
 * the Step Functions quota allows; when even the queue cannot be written the sweeper starts the
 * order's saga on its next run. The execution is named by the order id, so every one of these
 * starts the same, single execution.
 *
 * Why the order id is derived from (customer, Idempotency-Key) rather than random: a retry whose
 * idempotency record is gone (lost, expired after 24 h, or never completed because the process
 * died) runs this function again; with a derived id it finds the order the first attempt
 * committed and answers it again (starting its saga if it is still PENDING), instead of placing a
 * second order.
 */
export function createPlaceOrder(dependencies: PlaceOrderDependencies) {
  const { orders, sagaStarter, sagaStartBuffer } = dependencies;

  async function startSaga(order: Order, correlationId: string): Promise<SagaStartOutcome> {
    const input = { orderId: order.orderId, correlationId, chargeCents: order.chargeCents };
    const context = { orderId: order.orderId, correlationId };
    try {
      await sagaStarter.start(input);
      return 'STARTED';
    } catch (startError) {
      try {
        await sagaStartBuffer.enqueue(input);
        logger.warn('the saga start failed; handed to the saga-start queue', {
          ...context,
          error: startError as Error,
        });
        return 'BUFFERED';
      } catch (bufferError) {
        // The order is committed and stays accepted: the sweeper starts sagas that never started.
        logger.error('the saga start failed and could not be queued; the sweeper will start it', {
          ...context,
          error: startError as Error,
          bufferError: bufferError as Error,
        });
        return 'DEFERRED';
      }
    }
  }

  /** An order placed by an earlier attempt with the same key. */
  async function resume(existing: Order, command: PlaceOrderCommand): Promise<PlaceOrderOutcome> {
    if (!sameRequest(existing, command)) {
      return { outcome: 'IDEMPOTENCY_KEY_REUSED', orderId: existing.orderId };
    }
    // Only a PENDING order may still lack its saga; any later status means the saga (or the
    // sweeper) has already taken it over, and starting it again would be wrong or pointless.
    const sagaStart =
      existing.status === 'PENDING'
        ? await startSaga(existing, existing.correlationId ?? command.correlationId)
        : 'NOT_NEEDED';
    return { outcome: 'ACCEPTED', order: existing, resumed: true, sagaStart };
  }

  return async function placeOrder(command: PlaceOrderCommand): Promise<PlaceOrderOutcome> {
    const orderId = orderIdFor(command.customerId, command.idempotencyKey);

    // One round trip (migrations/0015): the order an earlier attempt with this key placed is found
    // before anything is checked, so a retry finds it even when the stock or credit it reserved is
    // no longer available to a second placement.
    const result = await orders.placeOrFindOrder({
      orderId,
      customerId: command.customerId,
      currency: command.currency,
      paymentMethod: command.paymentMethod,
      storeCreditCents: command.storeCreditCents,
      // The store merges and sorts the lines: the order in which place_order locks them.
      items: command.items,
      correlationId: command.correlationId,
      ...(dependencies.reservationTtlSeconds === undefined
        ? {}
        : { reservationTtlSeconds: dependencies.reservationTtlSeconds }),
    });
    if (result.outcome === 'EXISTS') return resume(result.order, command);
    // Another attempt with the same key committed the order between this call's check and its
    // insert (only possible when its idempotency lock had expired): pick that order up.
    if (result.outcome === 'ALREADY_PLACED') {
      const raced = await orders.getOrder(orderId);
      if (!raced) throw new Error(`order ${orderId} was reported placed but cannot be read`);
      return resume(raced, command);
    }
    if (result.outcome !== 'PLACED') return result;
    const sagaStart = await startSaga(result.order, command.correlationId);
    return { outcome: 'ACCEPTED', order: result.order, resumed: false, sagaStart };
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
