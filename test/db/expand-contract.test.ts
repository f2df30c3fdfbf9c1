import { describe, expect, test } from 'vitest';
import { loadMigrations } from '../../src/db/migrations.js';
import { MIGRATIONS_DIR } from '../support/database.js';
import {
  describeViolation,
  destructiveChanges,
  EXPAND_CONTRACT_SINCE,
  expandContractViolations,
} from '../support/expand-contract.js';

/** A migration numbered under the rule, e.g. the next one a change would add. */
function migration(sql: string) {
  return { version: EXPAND_CONTRACT_SINCE + 3, file: '0010_change.sql', sql };
}

describe('expand/contract check of the migrations (CI)', () => {
  test('no migration of the repository drops or renames what the previous release uses, unless marked as a contract step', async () => {
    const migrations = await loadMigrations(MIGRATIONS_DIR);
    expect(migrations.length).toBeGreaterThanOrEqual(6);

    const violations = migrations.flatMap(expandContractViolations);

    expect(violations.map(describeViolation)).toEqual([]);
  });
});

describe('expand/contract check', () => {
  test('catches a migration that drops a column', () => {
    const violations = expandContractViolations(migration('alter table orders drop column status;'));

    expect(violations).toEqual([
      { kind: 'column', object: 'orders.status', action: 'drop', file: '0010_change.sql' },
    ]);
    expect(describeViolation(violations[0] as (typeof violations)[number])).toContain(
      '-- contract: column orders.status',
    );
  });

  test('catches drops and renames of tables, columns, views and function signatures', () => {
    const sql = `
      drop table if exists legacy_carts cascade;
      alter table orders rename column total_cents to amount_cents;
      alter table "payments" rename to card_payments;
      alter table only wallets drop balance, add column currency text;
      drop view order_totals;
      drop function mark_requires_attention(uuid, text, jsonb, text, text);
      alter function confirm_order(uuid, text) rename to confirm;
    `;

    expect(destructiveChanges(sql)).toEqual([
      { kind: 'table', object: 'legacy_carts', action: 'drop' },
      { kind: 'column', object: 'orders.total_cents', action: 'rename' },
      { kind: 'table', object: 'payments', action: 'rename' },
      { kind: 'column', object: 'wallets.balance', action: 'drop' },
      { kind: 'view', object: 'order_totals', action: 'drop' },
      { kind: 'function', object: 'mark_requires_attention(uuid, text, jsonb, text, text)', action: 'drop' },
      { kind: 'function', object: 'confirm_order(uuid, text)', action: 'rename' },
    ]);
  });

  test('passes a marked contract step that names what it removes', () => {
    const sql = `
      -- contract: column orders.legacy_status (no release reads it since 0008)
      alter table orders drop column legacy_status;
    `;

    expect(expandContractViolations(migration(sql))).toEqual([]);
  });

  test('a contract marker covers only what it names', () => {
    const sql = `
      -- contract: column orders.legacy_status
      alter table orders drop column legacy_status, drop column status;
    `;

    expect(expandContractViolations(migration(sql)).map((v) => v.object)).toEqual(['orders.status']);
  });

  test('passes additive changes: create or replace function with the same signature, new columns and tables', () => {
    const sql = `
      create or replace function place_order(p_order_id uuid, p_customer_id text) returns jsonb
      language plpgsql as $$
      begin
        -- a body may say anything: drop table orders;
        execute 'drop table orders';
        return '{}';
      end;
      $$;
      alter table orders add column recovery_lease_until timestamptz;
      alter table orders drop constraint orders_status_check, alter column note drop not null;
      create table order_notes (id uuid primary key);
      create index orders_status on orders (status);
    `;

    expect(destructiveChanges(sql)).toEqual([]);
  });

  test('migrations released before the rule are not checked (0005 replaced a function signature)', () => {
    const sql = 'drop function mark_requires_attention(uuid, text, jsonb, text, text);';

    expect(expandContractViolations({ version: 5, file: '0005_compensation_reason.sql', sql })).toEqual([]);
    expect(expandContractViolations({ ...migration(sql) })).toHaveLength(1);
  });
});
