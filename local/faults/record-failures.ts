import { appendFileSync } from 'node:fs';
import type { Sql } from 'postgres';
import type { PaymentEffect } from './side-effects.js';

/**
 * "The provider did it, and the record of it failed", injected from outside the product, at the
 * database the emulator owns: a trigger on `payments` fails the write that records a side effect
 * (the status becoming AUTHORIZED, CAPTURED, VOIDED or REFUNDED) with SQLSTATE 40001, which the
 * data layer turns into the retryable `DatabaseUnavailableError`, as it would a real blip. The
 * trigger, its rules and its counters live in a schema of their own (`injected_faults`), installed
 * by whoever injects (the local stack, a test) and never by a migration.
 *
 * A rule fails the record of one side effect of one order a number of times. The failed write is
 * rolled back with its transaction, so the count is kept in a sequence per rule: sequences do not
 * roll back.
 */

const SCHEMA = 'injected_faults';

/** The status a record of each side effect writes. */
const RECORDED_STATUS: Record<PaymentEffect, string> = {
  authorize: 'AUTHORIZED',
  capture: 'CAPTURED',
  void: 'VOIDED',
  refund: 'REFUNDED',
};

/** One injected "record failed after its side effect", as a line of `injected-faults.jsonl`. */
export interface InjectedRecordFailure {
  readonly at: string;
  readonly effect: PaymentEffect;
  readonly orderId: string;
}

/** Where the local stack logs each injection, in its data folder. */
export const INJECTED_FAULTS_FILE = 'injected-faults.jsonl';

/** Installs the schema, the rules table and the trigger; idempotent. Needs the owner of `payments`. */
export async function installRecordFailures(sql: Sql): Promise<void> {
  const effectOf = Object.entries(RECORDED_STATUS)
    .map(([effect, status]) => `when '${status}' then '${effect}'`)
    .join(' ');
  await sql.begin(async (tx) => {
    await tx.unsafe(`create schema if not exists ${SCHEMA}`);
    await tx.unsafe(`
      create table if not exists ${SCHEMA}.record_failures (
        id bigint generated always as identity primary key,
        effect text not null,
        order_id uuid not null,
        times integer
      )`);
    await tx.unsafe(`
      create or replace function ${SCHEMA}.fail_record() returns trigger
      language plpgsql security definer set search_path = pg_catalog, ${SCHEMA} as $$
      declare
        recorded text := case new.status ${effectOf} end;
        rule record;
      begin
        if recorded is null or new.status is not distinct from old.status then
          return new;
        end if;
        for rule in
          select r.id, r.times from ${SCHEMA}.record_failures r
          where r.effect = recorded and r.order_id = new.order_id
        loop
          if nextval(format('${SCHEMA}.rule_%s', rule.id)::regclass) <= coalesce(rule.times, 2147483647) then
            raise exception 'injected fault: the record of % for order % failed', recorded, new.order_id
              using errcode = '40001';
          end if;
        end loop;
        return new;
      end $$`);
    await tx.unsafe('drop trigger if exists injected_record_failures on public.payments');
    await tx.unsafe(`
      create trigger injected_record_failures before update of status on public.payments
      for each row execute function ${SCHEMA}.fail_record()`);
  });
}

/** Removes the trigger and everything it used, e.g. when a stack restarts without injection. */
export async function removeRecordFailures(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe('drop trigger if exists injected_record_failures on public.payments');
    await tx.unsafe(`drop schema if exists ${SCHEMA} cascade`);
  });
}

export interface RecordFailureRule {
  readonly effect: PaymentEffect;
  readonly orderId: string;
  /** How many records of it fail; `Infinity` for every one. */
  readonly times: number;
}

/** Fails the records the rule names, from now on (see {@link installRecordFailures}). */
export async function failRecords(sql: Sql, rule: RecordFailureRule): Promise<void> {
  await sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      insert into injected_faults.record_failures (effect, order_id, times)
      values (${rule.effect}, ${rule.orderId}::uuid, ${Number.isFinite(rule.times) ? rule.times : null})
      returning id
    `;
    await tx.unsafe(`create sequence ${SCHEMA}.rule_${Number(row?.id)}`);
  });
}

/** Every record the rules failed so far, as `effect:orderId`, once per failure. */
export async function failedRecords(sql: Sql): Promise<string[]> {
  const rules = await sql<{ id: string; effect: string; order_id: string; times: number | null }[]>`
    select id, effect, order_id, times from injected_faults.record_failures order by id
  `;
  const failed: string[] = [];
  for (const rule of rules) {
    const [counter] = await sql.unsafe<{ last_value: string; is_called: boolean }[]>(
      `select last_value, is_called from ${SCHEMA}.rule_${Number(rule.id)}`,
    );
    const attempts = counter?.is_called ? Number(counter.last_value) : 0;
    const times = Math.min(attempts, rule.times ?? attempts);
    for (let n = 0; n < times; n++) failed.push(`${rule.effect}:${rule.order_id}`);
  }
  return failed;
}

/** Forgets every rule: nothing fails from now on. */
export async function clearRecordFailures(sql: Sql): Promise<void> {
  const rules = await sql<{ id: string }[]>`delete from injected_faults.record_failures returning id`;
  for (const rule of rules) await sql.unsafe(`drop sequence if exists ${SCHEMA}.rule_${Number(rule.id)}`);
}

export interface RecordFailureRateOptions {
  /** The emulator's own connection to the database (an owner of `payments`). */
  readonly sql: Sql;
  /** Share (0..1) of successful provider side effects whose record is made to fail, once. */
  readonly rate: number;
  /** Where each injection is appended as one JSON line (the chaos bench counts them). */
  readonly file: string;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * `LOCAL_FAULT_RECORD_FAILURE_RATE`: told of every side effect the provider has just performed
 * and is about to answer, it makes that share of them fail their record once. The product then
 * does what it does after a real blip: the step fails with `DatabaseUnavailableError`, the Task
 * retries, finds its side effect at the provider (same idempotency key) and records it. While the
 * database is away no rule can be written, and none is injected (nor logged).
 */
export function injectRecordFailuresAtRate(options: RecordFailureRateOptions) {
  const random = options.random ?? Math.random;
  return async (effect: PaymentEffect, orderId: string): Promise<void> => {
    if (random() >= options.rate) return;
    try {
      await failRecords(options.sql, { effect, orderId, times: 1 });
    } catch {
      return;
    }
    const entry: InjectedRecordFailure = { at: new Date().toISOString(), effect, orderId };
    // Synchronous: the line is on disk before the provider answers, whatever happens next.
    appendFileSync(options.file, `${JSON.stringify(entry)}\n`);
  };
}
