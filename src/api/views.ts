import type { Product } from '../db/catalog.js';
import type { FailedCompensation } from '../db/compensations.js';
import type { Wallet } from '../db/wallets.js';
import type { Order } from '../domain/order.js';

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
    createdAt: compensation.createdAt,
    updatedAt: compensation.updatedAt,
    resolvedAt: compensation.resolvedAt,
  };
}

/** PostgreSQL's jsonb timestamps (`2026-01-02T03:04:05.123456+00:00`) as ISO 8601 UTC. */
function isoTimestamp(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}
