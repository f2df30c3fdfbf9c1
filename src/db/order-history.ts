import type { Sql } from 'postgres';
import { query } from './errors.js';

/** One entry of an order's timeline (the append-only `order_events` table). */
export interface OrderEvent {
  readonly type: string;
  /** When it happened, ISO 8601 UTC. */
  readonly at: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * What the customer is still owed for an order, as the database records it right now (migration
 * 0014, `order_holdings`): stock still reserved, store credit still debited, the card payment
 * still held. What the provider itself reports is a compensation's `providerState`.
 */
export interface OrderHoldings {
  readonly reservedItems: readonly { readonly sku: string; readonly quantity: number }[];
  readonly storeCreditCents: number;
  readonly card: {
    /**
     * AUTHORIZED: an authorization to void; CAPTURED: a capture to refund; UNKNOWN: authorize was
     * sent and never answered (the provider knows); NONE: nothing held on the card.
     */
    readonly status: 'NONE' | 'AUTHORIZED' | 'CAPTURED' | 'UNKNOWN';
    readonly amountCents: number;
  };
}

/** `order_holdings` as PostgreSQL returns it: no `card` for an order without a payment row. */
export type RawHoldings = Omit<OrderHoldings, 'card'> & { card: OrderHoldings['card'] | null };

const NOTHING_HELD: OrderHoldings['card'] = { status: 'NONE', amountCents: 0 };

export function toHoldings(raw: RawHoldings | null): OrderHoldings {
  if (!raw) return { reservedItems: [], storeCreditCents: 0, card: NOTHING_HELD };
  return {
    reservedItems: raw.reservedItems,
    storeCreditCents: Number(raw.storeCreditCents),
    card: raw.card ? { status: raw.card.status, amountCents: Number(raw.card.amountCents) } : NOTHING_HELD,
  };
}

/** Reads the history operators need to understand an order: what happened to it, and when. */
export class OrderHistoryStore {
  constructor(private readonly sql: Sql) {}

  /** The order's events, oldest first; empty for an unknown order. */
  async events(orderId: string): Promise<OrderEvent[]> {
    const rows = await query(this.sql<{ type: string; created_at: Date; detail: Record<string, unknown> }[]>`
      select type, created_at, detail
      from order_events
      where order_id = ${orderId}::uuid
      order by created_at, id
    `);
    return rows.map((row) => ({ type: row.type, at: row.created_at.toISOString(), detail: row.detail }));
  }

  /** What the customer is still owed for the order; nothing for an unknown order. */
  async holdings(orderId: string): Promise<OrderHoldings> {
    const [row] = await query(this.sql<{ owed: RawHoldings | null }[]>`
      select order_holdings(${orderId}::uuid) as owed
    `);
    return toHoldings(row?.owed ?? null);
  }
}
