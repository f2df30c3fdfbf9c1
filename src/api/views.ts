import type { Product } from '../db/catalog.js';
import type { CompensationListing, FailedCompensation } from '../db/compensations.js';
import type { OrderEvent, OrderHoldings } from '../db/order-history.js';
import type { Wallet } from '../db/wallets.js';
import type { Order } from '../domain/order.js';
import type { SagaExecutionState } from '../saga/saga-starter.js';

/**
 * Response bodies of the HTTP API (docs/openapi.yaml). Built explicitly, member by member, so a new
 * column in the database never leaks into the API by accident.
 */

/** The `202` body of `POST /v1/checkout`. */
export function acceptedOrderView(order: Order) {
  return {
    orderId: order.orderId,
    status: order.status,
    totalCents: order.totalCents,
    storeCreditCents: order.storeCreditCents,
    chargeCents: order.chargeCents,
    currency: order.currency,
  };
}

/** `GET /v1/orders/{orderId}`. Optional members are omitted rather than null. */
export function orderView(order: Order) {
  return {
    orderId: order.orderId,
    status: order.status,
    items: order.items.map((item) => ({
      sku: item.sku,
      quantity: item.quantity,
      unitPriceCents: item.unitPriceCents,
    })),
    totalCents: order.totalCents,
    storeCreditCents: order.storeCreditCents,
    chargeCents: order.chargeCents,
    currency: order.currency,
    payment: {
      status: order.payment.status,
      ...(order.payment.authorizationId ? { authorizationId: order.payment.authorizationId } : {}),
    },
    ...(order.cancellationReason ? { cancellationReason: order.cancellationReason } : {}),
    createdAt: isoTimestamp(order.createdAt),
    updatedAt: isoTimestamp(order.updatedAt),
  };
}

export function productView(product: Product) {
  return {
    sku: product.sku,
    name: product.name,
    priceCents: product.priceCents,
    currency: product.currency,
    onHand: product.onHand,
    reserved: product.reserved,
    available: product.available,
  };
}

export function walletView(wallet: Wallet) {
  return { customerId: wallet.customerId, balanceCents: wallet.balanceCents };
}

export function compensationView(compensation: FailedCompensation) {
  return {
    compensationId: compensation.compensationId,
    orderId: compensation.orderId,
    status: compensation.status,
    steps: compensation.steps,
    attempts: compensation.attempts,
    lastError: compensation.lastError,
    cancellationReason: compensation.cancellationReason,
    correlationId: compensation.correlationId,
    providerState: compensation.providerState,
    createdAt: compensation.createdAt,
    updatedAt: compensation.updatedAt,
    resolvedAt: compensation.resolvedAt,
  };
}

/** What the customer is still owed, member by member. */
export function holdingsView(owed: OrderHoldings) {
  return {
    reservedItems: owed.reservedItems.map((item) => ({ sku: item.sku, quantity: item.quantity })),
    storeCreditCents: owed.storeCreditCents,
    card: { status: owed.card.status, amountCents: owed.card.amountCents },
  };
}

/** An item of `GET /v1/admin/compensations`: the compensation, its customer and what they are owed. */
export function compensationListingView(compensation: CompensationListing) {
  return {
    ...compensationView(compensation),
    customerId: compensation.customerId,
    owed: holdingsView(compensation.owed),
  };
}

/**
 * `GET /v1/admin/orders/{orderId}`: the customer's view plus what operators need. An order whose
 * saga has no execution (yet, or ever) shows `NOT_STARTED`.
 */
export function adminOrderView(input: {
  order: Order;
  events: readonly OrderEvent[];
  compensation: FailedCompensation | undefined;
  owed: OrderHoldings;
  sagaState: SagaExecutionState;
}) {
  return {
    ...orderView(input.order),
    customerId: input.order.customerId,
    owed: holdingsView(input.owed),
    events: input.events.map((event) => ({ type: event.type, at: event.at, detail: event.detail })),
    compensation: input.compensation ? compensationView(input.compensation) : null,
    saga: { status: input.sagaState === 'NOT_FOUND' ? 'NOT_STARTED' : input.sagaState },
  };
}

/** PostgreSQL's jsonb timestamps (`2026-01-02T03:04:05.123456+00:00`) as ISO 8601 UTC. */
function isoTimestamp(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}
