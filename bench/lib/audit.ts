import type { Sql } from 'postgres';
import { auditDatabase, auditPayments, type InvariantReport, type PaymentLedgerEntry } from './invariants.js';

export type { InvariantReport } from './invariants.js';

const EXAMPLES = 5;

export interface BenchAuditInput {
  readonly sql: Sql;
  /** The payment provider's ledger (`GET /ledger`). */
  readonly ledger: readonly PaymentLedgerEntry[];
  /** Initial stock of the SKUs the bench created: proves no oversell on them. */
  readonly initialStock: Readonly<Record<string, number>>;
  /** Reports computed earlier in the run (the DLQ comparison, scenario checks). */
  readonly earlier?: readonly InvariantReport[];
}

/**
 * The bench's invariant audit (README "Tests"), run once the system has settled: the database and
 * payment invariants of bench/lib/invariants.ts (money per order from the provider's ledger, parked
 * orders included), plus what only
 * holds once everything is settled (nothing left in flight, every failed compensation resolved
 * after the redrive, none of them only in a log). Every report counts its violations; the run fails when any count is not 0.
 */
export async function auditSettledSystem(input: BenchAuditInput): Promise<InvariantReport[]> {
  return [
    ...(await auditDatabase(input.sql, { initialStock: input.initialStock })),
    ...(await auditPayments(input.sql, input.ledger, { settled: true })),
    ...(await auditSettled(input.sql)),
    ...(input.earlier ?? []),
  ];
}

/** What holds only when the system has settled after the faults were cleared and the DLQ redriven. */
export async function auditSettled(sql: Sql): Promise<InvariantReport[]> {
  const inFlight = await sql<{ id: string; status: string }[]>`
    select id, status
    from orders
    where status in ('PENDING', 'AUTHORIZED', 'REQUIRES_ATTENTION')
  `;
  const unresolved = await sql<{ compensation_id: string; status: string }[]>`
    select compensation_id, status
    from failed_compensations
    where status <> 'RESOLVED'
  `;
  const untracked = await sql<{ order_id: string }[]>`
    select distinct e.order_id
    from order_events e
    where e.to_status = 'REQUIRES_ATTENTION'
      and not exists (select 1 from failed_compensations f where f.order_id = e.order_id)
  `;
  return [
    report('the system settled: no order left PENDING, AUTHORIZED or REQUIRES_ATTENTION', inFlight),
    report('every failed compensation is resolved after the DLQ redrive', unresolved),
    report('every order that required attention has its failed compensation on record', untracked),
  ];
}

/**
 * Compares the compensation DLQ with the audit table before the redrive: every compensation the
 * worker gave up on (FAILED) must be waiting in the DLQ, and every DLQ message must be a FAILED
 * compensation on record. A failure that is only logged shows up here.
 */
export async function auditDlqAgainstTable(
  sql: Sql,
  dlqCompensationIds: readonly string[],
): Promise<InvariantReport> {
  const failed = await sql<{ compensation_id: string }[]>`
    select compensation_id from failed_compensations where status = 'FAILED'
  `;
  const inTable = new Set(failed.map((row) => row.compensation_id));
  const inDlq = new Set(dlqCompensationIds);
  const missingFromDlq = [...inTable].filter((id) => !inDlq.has(id)).map((id) => ({ id, missing: 'DLQ' }));
  const missingFromTable = [...inDlq]
    .filter((id) => !inTable.has(id))
    .map((id) => ({ id, missing: 'audit table' }));
  return report('every failed compensation is in the DLQ and in the audit table (before the redrive)', [
    ...missingFromDlq,
    ...missingFromTable,
  ]);
}

/** A check the bench makes itself, as a report: `offenders` lists what broke it. */
export function report(name: string, offenders: readonly unknown[]): InvariantReport {
  return { name, violations: offenders.length, examples: offenders.slice(0, EXAMPLES) };
}
