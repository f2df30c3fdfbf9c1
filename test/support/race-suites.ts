import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { auditDatabase, violationsOf } from '../../bench/lib/invariants.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import { orderInput, seedProducts, seedWallet } from './fixtures.js';

/**
 * The race tests of the foundation, run against a URL: directly on PostgreSQL, and through
 * PgBouncer in transaction mode (the RDS Proxy stand-in) where a client that relies on session
 * state or named prepared statements hangs or fails under concurrency.
 */
export function stampedeSuite(label: string, poolUrl: () => string): void {
  describe(`stampede and wallet races (${label})`, () => {
    test('200 concurrent single-unit orders on 50 units: exactly 50 succeed, stock exact', async () => {
      const sql = createSql(poolUrl(), { max: 20 });
      const orders = new OrderStore(sql);
      const sku = `HOT-${randomUUID().slice(0, 8)}`;
      await seedProducts(sql, { [sku]: { onHand: 50 } });

      const results = await Promise.all(
        Array.from({ length: 200 }, () => orders.placeOrder(orderInput({ items: [{ sku, quantity: 1 }] }))),
      );

      const outcomes = results.map((r) => r.outcome);
      expect(outcomes.filter((o) => o === 'PLACED')).toHaveLength(50);
      expect(outcomes.filter((o) => o === 'OUT_OF_STOCK')).toHaveLength(150);
      expect(await new CatalogStore(sql).getProduct(sku)).toMatchObject({
        onHand: 50,
        reserved: 50,
        available: 0,
      });
      const [held] = await sql<{ quantity: number }[]>`
        select coalesce(sum(quantity), 0)::int as quantity from reservations where sku = ${sku} and status = 'HELD'
      `;
      expect(held?.quantity).toBe(50);
      expect(violationsOf(await auditDatabase(sql, { initialStock: { [sku]: 50 } }))).toEqual([]);
      await sql.end();
    });

    test('100 concurrent debits of 10 on a balance of 500: exactly 50 succeed, balance 0 = ledger', async () => {
      const sql = createSql(poolUrl(), { max: 20 });
      const orders = new OrderStore(sql);
      const sku = `WALLET-${randomUUID().slice(0, 8)}`;
      const customerId = `wallet-${randomUUID()}`;
      await seedProducts(sql, { [sku]: { onHand: 1000, priceCents: 10 } });
      await seedWallet(sql, customerId, 500);

      const results = await Promise.all(
        Array.from({ length: 100 }, () =>
          orders.placeOrder(orderInput({ customerId, storeCreditCents: 10, items: [{ sku, quantity: 1 }] })),
        ),
      );

      const outcomes = results.map((r) => r.outcome);
      expect(outcomes.filter((o) => o === 'PLACED')).toHaveLength(50);
      expect(outcomes.filter((o) => o === 'INSUFFICIENT_STORE_CREDIT')).toHaveLength(50);
      const [wallet] = await sql<{ balance: number; ledger: number; debits: number }[]>`
        select w.balance_cents as balance,
               (select sum(amount_cents) from wallet_transactions t where t.customer_id = w.customer_id)::bigint as ledger,
               (select count(*) from wallet_transactions t where t.customer_id = w.customer_id and kind = 'DEBIT')::int as debits
        from store_credit_wallets w
        where w.customer_id = ${customerId}
      `;
      expect(wallet).toEqual({ balance: 0, ledger: 0, debits: 50 });
      expect(violationsOf(await auditDatabase(sql))).toEqual([]);
      await sql.end();
    });
  });
}
