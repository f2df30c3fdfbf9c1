import type { Sql } from 'postgres';

/** One audited rule and how many rows break it (with a few examples to start an investigation). */
export interface InvariantReport {
  readonly name: string;
  readonly violations: number;
  readonly examples: unknown[];
}

export interface AuditOptions {
  /**
   * Stock each SKU started with. With it, the audit also proves no oversell:
   * initial = on_hand (available + reserved) + committed (sold).
   */
  readonly initialStock?: Readonly<Record<string, number>>;
}

const EXAMPLES = 5;

/**
 * Audits the database invariants of DESIGN §9 (stock, wallets, order/payment consistency, failed
 * compensations recorded). Used by the tests after every scenario and by the benchmark's chaos
 * audit; it reads only, so it can run against a live system.
 */
export async function auditDatabase(sql: Sql, options: AuditOptions = {}): Promise<InvariantReport[]> {
  const checks: [string, PromiseLike<readonly unknown[]>][] = [
    [
      'inventory.reserved equals the held reservations',
      sql`
        select i.sku, i.reserved, coalesce(sum(r.quantity) filter (where r.status = 'HELD'), 0)::int as held
        from inventory i
        left join reservations r on r.sku = i.sku
        group by i.sku, i.reserved
        having i.reserved <> coalesce(sum(r.quantity) filter (where r.status = 'HELD'), 0)
      `,
    ],
    [
      'stock is never negative or over-reserved',
      sql`select sku, on_hand, reserved from inventory where on_hand < 0 or reserved < 0 or reserved > on_hand`,
    ],
    [
      'wallet balance equals its ledger and is never negative',
      sql`
        select w.customer_id, w.balance_cents, coalesce(sum(t.amount_cents), 0)::bigint as ledger
        from store_credit_wallets w
        left join wallet_transactions t on t.customer_id = w.customer_id
        group by w.customer_id, w.balance_cents
        having w.balance_cents < 0 or w.balance_cents <> coalesce(sum(t.amount_cents), 0)
      `,
    ],
    [
      'confirmed orders are paid and their stock committed',
      sql`
        select o.id, p.status as payment
        from orders o
        join payments p on p.order_id = o.id
        where o.status = 'CONFIRMED'
          and (
            p.status not in ('CAPTURED', 'NOT_REQUIRED')
            or exists (select 1 from reservations r where r.order_id = o.id and r.status <> 'COMMITTED')
          )
      `,
    ],
    [
      'cancelled orders hold nothing: stock released, payment reversed, credit refunded',
      sql`
        select o.id, p.status as payment
        from orders o
        join payments p on p.order_id = o.id
        where o.status = 'CANCELLED'
          and (
            p.status in ('AUTHORIZED', 'CAPTURED')
            or exists (select 1 from reservations r where r.order_id = o.id and r.status = 'HELD')
            or (
              o.store_credit_cents > 0
              and not exists (
                select 1 from wallet_transactions t
                where t.order_id = o.id and t.kind = 'REFUND' and t.amount_cents = o.store_credit_cents
              )
            )
          )
      `,
    ],
    [
      'store credit is debited at most once and refunded at most once per order',
      sql`
        select order_id, kind, count(*)::int as entries
        from wallet_transactions
        where order_id is not null
        group by order_id, kind
        having count(*) > 1
      `,
    ],
    [
      'orders requiring attention have a failed compensation on record',
      sql`
        select o.id
        from orders o
        where o.status = 'REQUIRES_ATTENTION'
          and not exists (select 1 from failed_compensations f where f.order_id = o.id)
      `,
    ],
  ];

  if (options.initialStock) {
    const skus = Object.keys(options.initialStock);
    const initial = skus.map((sku) => options.initialStock?.[sku] ?? 0);
    checks.push([
      'no oversell: initial stock = on hand + sold',
      sql`
        select s.sku, s.initial, i.on_hand, coalesce(sold.quantity, 0)::int as sold
        from unnest(${skus}::text[], ${initial}::integer[]) as s (sku, initial)
        join inventory i on i.sku = s.sku
        left join (
          select sku, sum(quantity) as quantity from reservations where status = 'COMMITTED' group by sku
        ) sold on sold.sku = s.sku
        where s.initial <> i.on_hand + coalesce(sold.quantity, 0)
      `,
    ]);
  }

  return Promise.all(
    checks.map(async ([name, query]) => {
      const rows = await query;
      return { name, violations: rows.length, examples: rows.slice(0, EXAMPLES) };
    }),
  );
}

/** Just the broken invariants; an empty list means the audit passed. */
export function violationsOf(reports: readonly InvariantReport[]): InvariantReport[] {
  return reports.filter((report) => report.violations > 0);
}
