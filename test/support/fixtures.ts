import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { CatalogStore } from '../../src/db/catalog.js';
import { OrderStore, type PlaceOrderInput } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';

/** Creates products with the given stock, all priced in USD. */
export async function seedProducts(
  sql: Sql,
  products: Record<string, { onHand: number; priceCents?: number; currency?: string }>,
): Promise<void> {
  const catalog = new CatalogStore(sql);
  for (const [sku, product] of Object.entries(products)) {
    await catalog.upsertProduct(sku, {
      name: `Product ${sku}`,
      priceCents: product.priceCents ?? 1000,
      currency: product.currency ?? 'USD',
      onHand: product.onHand,
    });
  }
}

export async function seedWallet(sql: Sql, customerId: string, balanceCents: number): Promise<void> {
  await new WalletStore(sql).setBalance(customerId, balanceCents);
}

/** A valid order request; override what the test is about. */
export function orderInput(overrides: Partial<PlaceOrderInput> = {}): PlaceOrderInput {
  return {
    orderId: randomUUID(),
    customerId: 'customer-1',
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 0,
    items: [{ sku: 'SKU-1', quantity: 1 }],
    correlationId: randomUUID(),
    ...overrides,
  };
}

/**
 * An order whose compensation failed in the saga: placed, then REQUIRES_ATTENTION with its
 * `failed_compensations` row (PENDING, steps void and release), as MarkRequiresAttention leaves it.
 */
export async function orderWithFailedCompensation(
  sql: Sql,
  overrides: Partial<PlaceOrderInput> = {},
): Promise<{ input: PlaceOrderInput; compensationId: string }> {
  const input = orderInput(overrides);
  const orders = new OrderStore(sql);
  await orders.placeOrder(input);
  const compensationId = `${input.orderId}:compensation`;
  await orders.markRequiresAttention({
    orderId: input.orderId,
    compensationId,
    steps: ['REVERSE_PAYMENT', 'RELEASE_RESERVATIONS'],
    error: 'PaymentProviderTransientError',
    cancellationReason: 'PAYMENT_FAILED',
    correlationId: input.correlationId,
  });
  return { input, compensationId };
}
