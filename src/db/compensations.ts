import type { Sql } from 'postgres';
import type { ProviderPaymentState } from '../payments/gateway.js';
import { query } from './errors.js';

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
   * After an operator queued a failed compensation again: FAILED becomes PENDING (waiting for the
   * worker). Any other status is left as it is. Returns the row, undefined when there is none.
   */
  async markRequeued(compensationId: string): Promise<FailedCompensation | undefined> {
    const [row] = await query(this.sql<Row[]>`
      update failed_compensations
      set status = 'PENDING', updated_at = now()
      where compensation_id = ${compensationId}
        and status = 'FAILED'
      returning *
    `);
    return row ? toCompensation(row) : this.get(compensationId);
  }

  /** The compensation of an order, if one of its compensations ever failed in the saga. */
  async findByOrder(orderId: string): Promise<FailedCompensation | undefined> {
    const [row] = await query(this.sql<Row[]>`
      select *
      from failed_compensations
      where order_id = ${orderId}::uuid
      order by created_at desc
      limit 1
    `);
    return row ? toCompensation(row) : undefined;
  }

  async get(compensationId: string): Promise<FailedCompensation | undefined> {
    const [row] = await query(this.sql<Row[]>`
      select * from failed_compensations where compensation_id = ${compensationId}
    `);
    return row ? toCompensation(row) : undefined;
  }

  /** Newest first, optionally one status only. */
  async list(options: { status?: CompensationStatus; limit?: number } = {}): Promise<FailedCompensation[]> {
    const rows = await query(this.sql<Row[]>`
      select *
      from failed_compensations
      where ${options.status ? this.sql`status = ${options.status}` : this.sql`true`}
      order by created_at desc
      limit ${options.limit ?? 100}
    `);
    return rows.map(toCompensation);
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
