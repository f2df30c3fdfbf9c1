import type { Sql } from './client.js';
import { query } from './errors.js';

/** One row of `outbox_events` as the relay hands it to a publisher. */
export interface OutboxEvent {
  /** `outbox_events.id`: stable across retries, so consumers de-duplicate on it. */
  readonly id: string;
  readonly aggregateId: string;
  /** `order.placed`, `order.confirmed`, `order.cancelled`, `compensation.failed`. */
  readonly type: string;
  /** The order snapshot taken in the transaction that wrote the event. */
  readonly payload: unknown;
  readonly correlationId: string | null;
  /** When the state change happened (ISO-8601), not when the event was published. */
  readonly createdAt: string;
  /** Earlier failed attempts to publish it. */
  readonly attempts: number;
}

const LAST_ERROR_MAX_LENGTH = 1000;

export interface OutboxBacklog {
  /** Events not published yet, due or backed off. */
  readonly unpublished: number;
  /** Age of the oldest unpublished event; 0 when there is none. */
  readonly oldestAgeSeconds: number;
}

interface ClaimedRow {
  id: string;
  aggregate_id: string;
  type: string;
  payload: unknown;
  correlation_id: string | null;
  created_at: Date;
  attempts: number;
}

/** The `outbox_events` table as the relay uses it: claim with a lease, mark published or failed. */
export class OutboxStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Leases up to `limit` due events, oldest due first, in one statement. `skip locked` lets
   * concurrent relays take disjoint batches instead of queueing on each other's rows; the lease
   * (a later `next_attempt_at`) keeps the rows out of other claims after this statement commits.
   * Ordering by `next_attempt_at` walks the partial index and stops at the limit; for events never
   * attempted it equals `created_at`, so new events go out in the order they were written.
   */
  async claim(limit: number, leaseSeconds: number): Promise<OutboxEvent[]> {
    // `returning` has no order of its own: the outer select hands the batch over in write order.
    const rows = await query(this.sql<ClaimedRow[]>`
      with due as (
        select id
        from outbox_events
        where published_at is null
          and next_attempt_at <= now()
        order by next_attempt_at, created_at, id
        limit ${limit}::integer
        for update skip locked
      ),
      claimed as (
        update outbox_events o
        set next_attempt_at = now() + ${leaseSeconds}::integer * interval '1 second'
        from due
        where o.id = due.id
        returning o.id, o.aggregate_id, o.type, o.payload, o.correlation_id, o.created_at, o.attempts
      )
      select *
      from claimed
      order by created_at, id
    `);
    return rows.map(toOutboxEvent);
  }

  /**
   * Marks delivered events published. Only unpublished rows change, so each event is marked exactly
   * once even when two relays delivered it; returns how many this call marked.
   */
  async markPublished(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await query(this.sql`
      update outbox_events
      set published_at = now()
      where id = any (${[...ids]}::uuid[])
        and published_at is null
      returning id
    `);
    return rows.length;
  }

  /** Counts a failed attempt and puts each event back in the outbox after its backoff. */
  async markFailed(retries: readonly { id: string; error: string; delayMs: number }[]): Promise<number> {
    if (retries.length === 0) return 0;
    const rows = await query(this.sql`
      update outbox_events o
      set attempts = o.attempts + 1,
          last_error = f.error,
          next_attempt_at = now() + f.delay_ms * interval '1 millisecond'
      from unnest(
        ${retries.map((retry) => retry.id)}::uuid[],
        ${retries.map((retry) => retry.error.slice(0, LAST_ERROR_MAX_LENGTH))}::text[],
        ${retries.map((retry) => retry.delayMs)}::integer[]
      ) as f (id, error, delay_ms)
      where o.id = f.id
        and o.published_at is null
      returning o.id
    `);
    return rows.length;
  }

  /** For the backlog metrics: an outbox that only grows means the relay or the bus is stuck. */
  async backlog(): Promise<OutboxBacklog> {
    const [row] = await query(this.sql<{ unpublished: number; oldest_age_seconds: number }[]>`
      select
        count(*)::integer as unpublished,
        coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_age_seconds
      from outbox_events
      where published_at is null
    `);
    return { unpublished: row?.unpublished ?? 0, oldestAgeSeconds: row?.oldest_age_seconds ?? 0 };
  }
}

function toOutboxEvent(row: ClaimedRow): OutboxEvent {
  return {
    id: row.id,
    aggregateId: row.aggregate_id,
    type: row.type,
    payload: row.payload,
    correlationId: row.correlation_id,
    createdAt: row.created_at.toISOString(),
    attempts: row.attempts,
  };
}
