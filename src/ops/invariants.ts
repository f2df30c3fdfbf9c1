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
 * Audits the database invariants of README "Tests" (stock, wallets, order/payment consistency, failed
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

/** One line of the payment provider's ledger (`GET /ledger` of the simulated provider). */
export interface PaymentLedgerEntry {
  readonly operation: 'authorize' | 'capture' | 'void' | 'refund';
  readonly orderId: string;
  readonly authorizationId: string | null;
  readonly amountCents: number;
  readonly outcome: 'succeeded' | 'declined' | 'failed';
}

/**
 * Audits the provider's ledger against the orders: no double capture, captured <= authorized,
 * every authorization captured or voided once the system has settled (orders parked in
 * REQUIRES_ATTENTION excepted: their compensation is still on its way), confirmed card orders
 * captured exactly once and cancelled orders never left charged.
 */
export async function auditPayments(
  sql: Sql,
  ledger: readonly PaymentLedgerEntry[],
): Promise<InvariantReport[]> {
  const succeeded = ledger.filter((entry) => entry.outcome === 'succeeded');
  const authorizations = new Map<string, PaymentLedgerEntry>();
  const captures = new Map<string, PaymentLedgerEntry[]>();
  const voided = new Set<string>();
  const refunded = new Set<string>();
  for (const entry of succeeded) {
    if (!entry.authorizationId) continue;
    if (entry.operation === 'authorize') authorizations.set(entry.authorizationId, entry);
    if (entry.operation === 'capture') {
      captures.set(entry.authorizationId, [...(captures.get(entry.authorizationId) ?? []), entry]);
    }
    if (entry.operation === 'void') voided.add(entry.authorizationId);
    if (entry.operation === 'refund') refunded.add(entry.authorizationId);
  }

  const doubleCaptures = [...captures.entries()].filter(([, list]) => list.length > 1).map(([id]) => id);
  const overCaptured = [...captures.entries()]
    .filter(
      ([id, list]) =>
        list.reduce((sum, c) => sum + c.amountCents, 0) > (authorizations.get(id)?.amountCents ?? 0),
    )
    .map(([id]) => id);
  const orders = await sql<{ id: string; status: string; charge_cents: number }[]>`
    select id, status, charge_cents from orders where status in ('CONFIRMED', 'CANCELLED', 'REQUIRES_ATTENTION')
  `;
  // An order parked in REQUIRES_ATTENTION holds its authorization until the compensation worker or
  // an operator finishes; that it is on record is audited by auditDatabase.
  const parked = new Set(orders.filter((o) => o.status === 'REQUIRES_ATTENTION').map((o) => o.id));
  const unsettled = [...authorizations.entries()]
    .filter(([id, entry]) => !captures.has(id) && !voided.has(id) && !parked.has(entry.orderId))
    .map(([id]) => id);

  const capturedOrders = new Map<string, number>();
  const chargedOrders = new Set<string>();
  for (const [id, list] of captures) {
    const orderId = list[0]?.orderId as string;
    capturedOrders.set(orderId, (capturedOrders.get(orderId) ?? 0) + list.length);
    if (!refunded.has(id)) chargedOrders.add(orderId);
  }
  const confirmedNotCapturedOnce = orders
    .filter((o) => o.status === 'CONFIRMED' && o.charge_cents > 0 && capturedOrders.get(o.id) !== 1)
    .map((o) => o.id);
  const cancelledButCharged = orders
    .filter((o) => o.status === 'CANCELLED' && chargedOrders.has(o.id))
    .map((o) => o.id);

  return [
    report('no authorization is captured twice', doubleCaptures),
    report('captured amount never exceeds the authorized amount', overCaptured),
    report('every authorization ends captured or voided', unsettled),
    report('every confirmed card order is captured exactly once', confirmedNotCapturedOnce),
    report('no cancelled order is left charged', cancelledButCharged),
  ];
}

function report(name: string, offenders: readonly unknown[]): InvariantReport {
  return { name, violations: offenders.length, examples: offenders.slice(0, EXAMPLES) };
}
