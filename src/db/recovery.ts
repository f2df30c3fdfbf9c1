import type { Sql } from './client.js';
import type { FailedCompensation } from './compensations.js';
import { query } from './errors.js';

/** An order the sweeper claimed: stuck in PENDING or AUTHORIZED, leased to this sweeper. */
export interface StuckOrder {
  readonly id: string;
  readonly correlationId: string | null;
  readonly chargeCents: number;
  /** Its stock reservation ran out: the order cannot be started any more, only compensated. */
  readonly reservationExpired: boolean;
}

/** A failed compensation the worker never attempted, claimed for requeueing. */
export type OrphanedCompensation = Pick<
  FailedCompensation,
  'compensationId' | 'orderId' | 'steps' | 'cancellationReason' | 'lastError' | 'correlationId'
>;

/**
 * What claiming an order for its saga start found (`claimStart`): the lease is the sweeper's
 * (`recovery_lease_until`), so while a starter holds it the sweeper leaves the order alone, and
 * while the sweeper holds it no starter acts on the order.
 */
export type StartClaim =
  /** The order is PENDING and leased to this starter until `leaseUntil` (its exact value, as text). */
  | { readonly outcome: 'CLAIMED'; readonly leaseUntil: string }
  /** The order is PENDING and leased to someone else: the sweeper, or another starter. */
  | { readonly outcome: 'LEASED' }
  /** The order moved on (its saga took it over, or it was cancelled): nothing to start. */
  | { readonly outcome: 'NOT_PENDING'; readonly status: string }
  | { readonly outcome: 'NOT_FOUND' };

/**
 * The sweeper's claims (`src/ops/sweeper.ts`): rows leased under FOR UPDATE SKIP LOCKED, so two
 * sweepers never take the same order or compensation. The saga starter takes the same lease on an
 * order before it starts its saga (docs/adr/0019), so a sweeper never compensates an order whose
 * start is under way.
 */
export class RecoveryStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Leases a PENDING order to a saga starter for `leaseSeconds`, unless its lease is held. One
   * statement: the update's own conditions decide, on the row as it is once locked.
   */
  async claimStart(orderId: string, leaseSeconds: number): Promise<StartClaim> {
    const [row] = await query(this.sql<{ status: string; lease_until: string | null }[]>`
      with claimed as (
        update orders
        set recovery_lease_until = now() + ${`${leaseSeconds} seconds`}::interval
        where id = ${orderId}
          and status = 'PENDING'
          and (recovery_lease_until is null or recovery_lease_until < now())
        returning recovery_lease_until::text as lease_until
      )
      select o.status, (select lease_until from claimed) as lease_until
      from orders o
      where o.id = ${orderId}
    `);
    if (!row) return { outcome: 'NOT_FOUND' };
    if (row.lease_until !== null) return { outcome: 'CLAIMED', leaseUntil: row.lease_until };
    return row.status === 'PENDING' ? { outcome: 'LEASED' } : { outcome: 'NOT_PENDING', status: row.status };
  }

  /**
   * Gives back a start lease, only if it is still the one `claimStart` took (never someone else's).
   * Compared as text: a timestamptz parameter would go through a JavaScript Date and lose its
   * microseconds.
   */
  async releaseStart(orderId: string, leaseUntil: string): Promise<void> {
    await query(this.sql`
      update orders
      set recovery_lease_until = null
      where id = ${orderId}
        and recovery_lease_until::text = ${leaseUntil}
    `);
  }

  /**
   * Leases up to `limit` orders in PENDING or AUTHORIZED untouched for `stuckAfterSeconds` (or
   * whose reservation has expired) and not leased by another sweeper, oldest first. It reads only
   * the candidates (docs/adr/0026): its cost follows the stuck orders, not the orders in flight.
   */
  async claimStuckOrders(options: {
    stuckAfterSeconds: number;
    limit: number;
    leaseSeconds: number;
  }): Promise<StuckOrder[]> {
    const rows = await query(this.sql<
      { id: string; correlation_id: string | null; charge_cents: number; reservation_expired: boolean }[]
    >`
      with candidates as (
        -- Two range scans, each on its partial index (migrations/0001_schema.sql): orders in flight untouched
        -- since the cutoff, and held reservations past their expiry. Never every order in flight.
        select o.id
        from orders o
        where o.status in ('PENDING', 'AUTHORIZED')
          and o.updated_at < now() - ${`${options.stuckAfterSeconds} seconds`}::interval
        union
        select r.order_id
        from reservations r
        where r.status = 'HELD'
          and r.expires_at < now()
      ),
      stuck as (
        select o.id
        from orders o
        join candidates c on c.id = o.id
        where o.status in ('PENDING', 'AUTHORIZED')
          and (o.recovery_lease_until is null or o.recovery_lease_until < now())
        order by o.updated_at
        limit ${options.limit}
        for update of o skip locked
      )
      update orders o
      set recovery_lease_until = now() + ${`${options.leaseSeconds} seconds`}::interval
      from stuck
      where o.id = stuck.id
      returning
        o.id,
        o.correlation_id,
        o.charge_cents,
        exists (
          select 1 from reservations r
          where r.order_id = o.id and r.status = 'HELD' and r.expires_at < now()
        ) as reservation_expired
    `);
    return rows.map((row) => ({
      id: row.id,
      correlationId: row.correlation_id,
      chargeCents: row.charge_cents,
      reservationExpired: row.reservation_expired,
    }));
  }

  /**
   * Claims up to `limit` compensations still PENDING `stuckAfterSeconds` after they were last
   * touched, by pushing `updated_at` forward under SKIP LOCKED, so concurrent sweepers take each once.
   */
  async claimOrphanedCompensations(options: {
    stuckAfterSeconds: number;
    limit: number;
  }): Promise<OrphanedCompensation[]> {
    const rows = await query(this.sql<
      {
        compensation_id: string;
        order_id: string;
        steps: string[];
        cancellation_reason: string | null;
        last_error: string | null;
        correlation_id: string | null;
      }[]
    >`
      with orphaned as (
        select compensation_id
        from failed_compensations
        where status = 'PENDING'
          and updated_at < now() - ${`${options.stuckAfterSeconds} seconds`}::interval
        order by updated_at
        limit ${options.limit}
        for update skip locked
      )
      update failed_compensations f
      set updated_at = now()
      from orphaned
      where f.compensation_id = orphaned.compensation_id
      returning f.compensation_id, f.order_id, f.steps, f.cancellation_reason, f.last_error, f.correlation_id
    `);
    return rows.map((row) => ({
      compensationId: row.compensation_id,
      orderId: row.order_id,
      steps: row.steps,
      cancellationReason: row.cancellation_reason,
      lastError: row.last_error,
      correlationId: row.correlation_id,
    }));
  }
}
