/** Lifecycle of an order (docs/openapi.yaml). */
export const ORDER_STATUSES = [
  'PENDING',
  'AUTHORIZED',
  'CONFIRMED',
  'CANCELLED',
  'REQUIRES_ATTENTION',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const PAYMENT_STATUSES = [
  'NOT_REQUIRED',
  'PENDING',
  'AUTHORIZED',
  'CAPTURED',
  'DECLINED',
  'VOIDED',
  'REFUNDED',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export interface CartLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface OrderItem {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPriceCents: number;
}

export interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly currency: string;
  readonly totalCents: number;
  readonly storeCreditCents: number;
  readonly chargeCents: number;
  readonly paymentMethod: string;
  readonly cancellationReason: string | null;
  readonly correlationId: string | null;
  readonly items: OrderItem[];
  readonly payment: { readonly status: PaymentStatus; readonly authorizationId: string | null };
  /**
   * Compensation has begun (or ended): nothing may authorize, capture or confirm the order any more
   * (migrations/0013_compensation_fence.sql).
   */
  readonly fenced: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * Merges lines that name the same SKU and sorts the cart by SKU.
 * Sorting is not cosmetic: it is the order in which inventory rows are locked.
 */
export function normalizeCart(lines: readonly CartLine[]): CartLine[] {
  const merged = new Map<string, number>();
  for (const line of lines) {
    merged.set(line.sku, (merged.get(line.sku) ?? 0) + line.quantity);
  }
  return [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }));
}
