import type { Sql } from 'postgres';
import type { ProviderPaymentState } from '../payments/gateway.js';
import { query } from './errors.js';
import { type OrderHoldings, type RawHoldings, toHoldings } from './order-history.js';

export const COMPENSATION_STATUSES = ['PENDING', 'RETRYING', 'RESOLVED', 'FAILED'] as const;
export type CompensationStatus = (typeof COMPENSATION_STATUSES)[number];

/** A compensation that failed inside the saga: the audit row behind the queue and its DLQ. */
export interface FailedCompensation {
  readonly compensationId: string;
  readonly orderId: string;
  readonly steps: string[];
  readonly status: CompensationStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly cancellationReason: string | null;
  readonly correlationId: string | null;
  /** What the payment provider reported for the order at the last failed attempt, when it answered. */
  readonly providerState: ProviderPaymentState | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly resolvedAt: string | null;
}

/**
 * What the store tells an observer (the compensation worker's metrics) about the rows it changed:
 * called only when a row really changed, so a duplicate delivery is never counted twice.
 */
export interface CompensationOutcomes {
  attempted(compensation: FailedCompensation): void;
  failed(compensation: { readonly compensationId: string; readonly final: boolean }): void;
  /** `createdAt` is when the saga gave the compensation up, `resolvedAt` when it finally succeeded. */
  resolved(compensation: FailedCompensation): void;
}

/** A failed compensation with the customer and what they are owed (the operators' list). */
export interface CompensationListing extends FailedCompensation {
  readonly customerId: string;
  readonly owed: OrderHoldings;
}

/** Which compensations the operators' list shows; every member narrows it. */
export interface CompensationFilter {
  /** One status, or UNRESOLVED for PENDING, RETRYING and FAILED. */
  readonly status?: CompensationStatus | 'UNRESOLVED';
  /** Those with this step still to do. */
  readonly step?: string;
  /** Those whose last error contains this text (case-insensitive). */
  readonly error?: string;
  /** Those the saga gave up at least this many minutes ago. */
  readonly olderThanMinutes?: number;
  readonly customerId?: string;
  /** @default 100 */
  readonly limit?: number;
}

/** What an operator's retry did to the row (`requeue_compensation`). */
export type RequeueOutcome =
  | { readonly outcome: 'APPLIED'; readonly status: CompensationStatus }
  | { readonly outcome: 'RESOLVED' }
  | { readonly outcome: 'NOT_FOUND' };

const UNOBSERVED: CompensationOutcomes = { attempted() {}, failed() {}, resolved() {} };

/**
 * The `failed_compensations` audit table: pending -> retrying -> resolved | failed.
 * Every attempt of the compensation worker is recorded here, so nothing lives only in a log.
 */
export class CompensationStore {
  constructor(
    private readonly sql: Sql,
    private readonly outcomes: CompensationOutcomes = UNOBSERVED,
  ) {}

  /** Counts an attempt; a resolved row stays resolved (a late duplicate delivery changes nothing). */
  async recordAttempt(compensationId: string): Promise<FailedCompensation | undefined> {
    const [row] = await query(this.sql<Row[]>`
      update failed_compensations
      set status = 'RETRYING', attempts = attempts + 1, updated_at = now()
      where compensation_id = ${compensationId}
        and status <> 'RESOLVED'
      returning *
    `);
    if (!row) return this.get(compensationId);
    const compensation = toCompensation(row);
    this.outcomes.attempted(compensation);
    return compensation;
  }

  /**
   * Records a failed attempt with what the provider reported (null when it could not be asked),
   * so the row says what is held at the provider and not only what went wrong.
   */
  async recordFailure(
    compensationId: string,
    failure: { error: string; final: boolean; providerState: ProviderPaymentState | null },
  ): Promise<void> {
    const providerState = failure.providerState ? this.sql.json(failure.providerState as never) : null;
    const { count } = await query(this.sql`
      update failed_compensations
      set status = ${failure.final ? 'FAILED' : 'RETRYING'},
          last_error = ${failure.error},
          provider_state = coalesce(${providerState}::jsonb, provider_state),
          updated_at = now()
      where compensation_id = ${compensationId}
        and status <> 'RESOLVED'
    `);
    if (count > 0) this.outcomes.failed({ compensationId, final: failure.final });
  }

  async markResolved(compensationId: string): Promise<void> {
    // Only the first resolution changes the row; a late duplicate leaves it (and the metrics) alone.
    const [row] = await query(this.sql<Row[]>`
      update failed_compensations
      set status = 'RESOLVED', resolved_at = now(), updated_at = now()
      where compensation_id = ${compensationId}
        and status <> 'RESOLVED'
      returning *
    `);
    if (row) this.outcomes.resolved(toCompensation(row));
  }

  /**
   * After an operator queued a compensation again: FAILED becomes PENDING (waiting for the worker),
   * any other unresolved status is left as it is, and the order's timeline records who asked
   * (`COMPENSATION_RETRY_REQUESTED`), all in one transaction (migration 0014).
   */
  async markRequeued(
    compensationId: string,
    request: { readonly requestedBy: string; readonly correlationId: string },
  ): Promise<RequeueOutcome> {
    const [row] = await query(this.sql<{ result: RequeueOutcome }[]>`
      select requeue_compensation(${compensationId}, ${request.requestedBy}, ${request.correlationId}) as result
    `);
    return (row as { result: RequeueOutcome }).result;
  }

  /** The latest compensation of an order, if one of its compensations ever failed in the saga. */
  async findByOrder(orderId: string): Promise<CompensationListing | undefined> {
    const [row] = await query(this.sql<ListingRow[]>`
      select c.*, o.customer_id, order_holdings(c.order_id) as owed
      from failed_compensations c
      join orders o on o.id = c.order_id
      where c.order_id = ${orderId}::uuid
      order by c.created_at desc
      limit 1
    `);
    return row ? toListing(row) : undefined;
  }

  async get(compensationId: string): Promise<FailedCompensation | undefined> {
    const [row] = await query(this.sql<Row[]>`
      select * from failed_compensations where compensation_id = ${compensationId}
    `);
    return row ? toCompensation(row) : undefined;
  }

  /**
   * The operators' list: unresolved first, then newest first, narrowed by `filter`; each with its
   * customer and what they are owed. One round trip whatever the number of rows.
   */
  async list(filter: CompensationFilter = {}): Promise<CompensationListing[]> {
    const sql = this.sql;
    const conditions = [
      filter.status === 'UNRESOLVED'
        ? sql`c.status <> 'RESOLVED'`
        : filter.status
          ? sql`c.status = ${filter.status}`
          : undefined,
      filter.step ? sql`c.steps @> jsonb_build_array(${filter.step}::text)` : undefined,
      filter.error ? sql`strpos(lower(coalesce(c.last_error, '')), lower(${filter.error})) > 0` : undefined,
      filter.olderThanMinutes !== undefined
        ? sql`c.created_at <= now() - make_interval(mins => ${filter.olderThanMinutes})`
        : undefined,
      filter.customerId ? sql`o.customer_id = ${filter.customerId}` : undefined,
    ].filter((condition) => condition !== undefined);
    const where = conditions.reduce((all, condition) => sql`${all} and ${condition}`, sql`true`);
    const rows = await query(sql<ListingRow[]>`
      select c.*, o.customer_id, order_holdings(c.order_id) as owed
      from failed_compensations c
      join orders o on o.id = c.order_id
      where ${where}
      order by c.status = 'RESOLVED', c.created_at desc
      limit ${filter.limit ?? 100}
    `);
    return rows.map(toListing);
  }
}

interface Row {
  compensation_id: string;
  order_id: string;
  steps: string[];
  status: CompensationStatus;
  attempts: number;
  last_error: string | null;
  cancellation_reason: string | null;
  correlation_id: string | null;
  provider_state: ProviderPaymentState | null;
  created_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
}

interface ListingRow extends Row {
  customer_id: string;
  owed: RawHoldings | null;
}

function toListing(row: ListingRow): CompensationListing {
  return { ...toCompensation(row), customerId: row.customer_id, owed: toHoldings(row.owed) };
}

function toCompensation(row: Row): FailedCompensation {
  return {
    compensationId: row.compensation_id,
    orderId: row.order_id,
    steps: row.steps,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    cancellationReason: row.cancellation_reason,
    correlationId: row.correlation_id,
    providerState: row.provider_state,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    resolvedAt: row.resolved_at ? row.resolved_at.toISOString() : null,
  };
}
