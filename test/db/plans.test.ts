import { randomUUID } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The order functions run generic plans (migrations/0012): one plan per statement for the life of
 * a connection, made without the parameters' values. Every statement must then still find its
 * rows by key, whatever the catalog's size: a generic plan that scans a table would make every
 * checkout cost as much as the table is large. auto_explain shows each nested statement's plan.
 */
describe('the order functions under generic plans', () => {
  let db: TestDatabase;
  let session: Sql;
  const plans: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    // A catalog large enough that a scan is never the cheap plan by accident of a tiny table,
    // and the one size at which 0009's `sku = any(...)` read was planned as two scans.
    await db.sql`
      insert into products (sku, name, price_cents, currency)
      select 'PLAN-' || i, 'Product ' || i, 1000, 'USD' from generate_series(1, 1000) i
    `;
    await db.sql`insert into inventory (sku, on_hand) select sku, 1000 from products where sku like 'PLAN-%'`;
    await db.sql`analyze products, inventory`;
    session = postgres(db.url, {
      max: 1,
      prepare: false,
      onnotice: (notice) => plans.push(String(notice.message)),
    });
    await session.unsafe("load 'auto_explain'");
    await session.unsafe(
      [
        'set auto_explain.log_min_duration = 0',
        'set auto_explain.log_nested_statements = on',
        'set auto_explain.log_level = notice',
        'set client_min_messages = notice',
      ].join('; '),
    );
  });
  afterAll(async () => {
    await session?.end();
    await db?.drop();
  });

  const place = (orderId: string, options: { customerId?: string; creditCents?: number } = {}) => session`
    select place_order(
      ${orderId}::uuid, ${options.customerId ?? 'plans'}, 'USD', 'pm_card_visa',
      ${options.creditCents ?? 0}::bigint, ${['PLAN-7', 'PLAN-3']}::text[], ${[1, 2]}::integer[],
      '900 seconds'::interval, ${orderId}
    ) as result
  `;

  test('find every row by key: no statement of a checkout, a cancellation or a refund scans a table', async () => {
    // Prepare: statements of the three paths through the saga, each function called as the
    // service calls it (happy card checkout; cancellation; store-credit refund).
    const confirmed = randomUUID();
    const cancelled = randomUUID();
    const refunded = randomUUID();
    const foldedCheckout = randomUUID();
    plans.length = 0;

    // Act
    const [placed] = await place(confirmed);
    await session`select order_snapshot(${confirmed}::uuid)`;
    await session`select mark_authorized(${confirmed}::uuid, 'auth-1', 'c')`;
    await session`select mark_captured(${confirmed}::uuid, 'capture-1', 'c')`;
    await session`select confirm_order(${confirmed}::uuid, 'c')`;
    await place(cancelled);
    await session`select record_payment_outcome(${cancelled}::uuid, 'DECLINED', 'c')`;
    await session`select release_reservations(${cancelled}::uuid, 'c')`;
    await session`select cancel_order(${cancelled}::uuid, 'PAYMENT_DECLINED', 'c')`;
    await session`select set_wallet_balance('plans-wallet', 5000::bigint, 'plans-top-up')`;
    await place(refunded, { customerId: 'plans-wallet', creditCents: 500 });
    await session`select release_reservations(${refunded}::uuid, 'c')`;
    await session`select refund_store_credit(${refunded}::uuid, 'c')`;
    await session`select mark_requires_attention(${refunded}::uuid, 'comp-1', '["ReversePayment"]'::jsonb, 'e', 'PAYMENT_FAILED', 'c')`;
    // The same checkout in the five round trips of migrations/0015, and a retry that finds its order.
    for (let attempt = 0; attempt < 2; attempt++) {
      await session`
        select place_or_find_order(
          ${foldedCheckout}::uuid, 'plans', 'USD', 'pm_card_visa', 0::bigint, ${['PLAN-7']}::text[],
          ${[1]}::integer[], '900 seconds'::interval, ${foldedCheckout}
        )
      `;
    }
    await session`select payment_step_view(${foldedCheckout}::uuid)`;
    await session`select mark_authorized(${foldedCheckout}::uuid, 'auth-2', 'c')`;
    await session`select capture_and_confirm(${foldedCheckout}::uuid, 'capture-2', 'c')`;

    // Assess
    expect(placed?.result.outcome).toBe('PLACED');
    expect(plans.length).toBeGreaterThan(40);
    const scans = plans.flatMap((plan) =>
      [...plan.matchAll(/Seq Scan on (\w+)/g)].map(
        (match) =>
          `${match[1]} in: ${/Query Text: (.*)/s.exec(plan)?.[1]?.replace(/\s+/g, ' ').slice(0, 160)}`,
      ),
    );
    expect(scans).toEqual([]);
  });
});
