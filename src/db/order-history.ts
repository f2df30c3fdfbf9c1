import type { Sql } from 'postgres';
import { query } from './errors.js';

/** One entry of an order's timeline (the append-only `order_events` table). */
export interface OrderEvent {
  readonly type: string;
  /** When it happened, ISO 8601 UTC. */
  readonly at: string;
  readonly detail: Readonly<Record<string, unknown>>;
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
}
