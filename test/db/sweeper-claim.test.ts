import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSql } from '../../src/db/client.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts } from '../support/fixtures.js';

/**
 * The sweeper's claim reads only what may be stuck (docs/adr/0026-fewer-round-trips-per-checkout.md):
 * orders in flight past the cutoff and held reservations past their expiry, each by its partial
 * index. The orders in flight that are merely young, thousands under load or after an outage,
 * are not read one by one on every sweep.
 */
describe("the sweeper's claim of stuck orders", () => {
  let db: TestDatabase;
  let single: Sql;
  const stuck = '00000000-0000-4000-8000-00000000a001';
  const expired = '00000000-0000-4000-8000-00000000a002';

  beforeAll(async () => {
    db = await createTestDatabase();
    single = createSql(db.url, { max: 1 });
    await seedProducts(db.sql, { 'SWEEP-CLAIM': { onHand: 10 } });
    // Prepare: 2,000 young orders in flight, one untouched for ten minutes, one young order whose
    // held reservation ran out.
    await db.sql`
      insert into orders (id, customer_id, currency, total_cents, payment_method)
      select gen_random_uuid(), 'young', 'USD', 100, 'pm_card_visa' from generate_series(1, 2000)
    `;
    await db.sql`
      insert into orders (id, customer_id, currency, total_cents, payment_method, updated_at)
      values (${stuck}, 'old', 'USD', 100, 'pm_card_visa', now() - interval '10 minutes'),
             (${expired}, 'expired', 'USD', 100, 'pm_card_visa', now())
    `;
    await db.sql`update inventory set reserved = 1 where sku = 'SWEEP-CLAIM'`;
    await db.sql`
      insert into reservations (order_id, sku, quantity, expires_at)
      values (${expired}, 'SWEEP-CLAIM', 1, now() - interval '1 minute')
    `;
    await db.sql`analyze orders, reservations`;
  });
  afterAll(async () => {
    await single?.end();
    await db?.drop();
  });

  test('claims the stuck and the expired order, and reads neither table row by row', async () => {
    // Act: the claim in a transaction of its own, whose own table statistics say what it read.
    await single`begin`;
    const claimed = await new RecoveryStore(single).claimStuckOrders({
      stuckAfterSeconds: 300,
      limit: 25,
      leaseSeconds: 120,
    });
    const reads = await single<{ relname: string; rows: number }[]>`
      select relname, (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int as rows
      from pg_stat_xact_user_tables
      where relname in ('orders', 'reservations')
    `;
    await single`commit`;

    // Assess
    expect(claimed.map((order) => [order.id, order.reservationExpired]).sort()).toEqual([
      [stuck, false],
      [expired, true],
    ]);
    for (const table of reads) expect(table.rows, table.relname).toBeLessThan(50);
  });
});
