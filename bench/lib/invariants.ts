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
      // Compensation fences an order before it reverses anything (migrations/0013): no late
      // capture or confirmation may then turn it into a sale whose money is being given back.
      'a fenced order is never confirmed',
      sql`select id from orders where status = 'CONFIRMED' and fenced_at is not null`,
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

export interface PaymentAuditOptions {
  /**
   * The system has settled (faults cleared, DLQ redriven, nothing in flight): an order parked in
   * REQUIRES_ATTENTION is then no excuse for money the provider still holds.
   * @default false
   */
  readonly settled?: boolean;
}

/**
 * Audits the provider's ledger (the truth for money) against the orders: no double capture,
 * captured <= authorized, no refund without a capture, every authorization captured or voided, and
 * per order, captures minus refunds equal to what a CONFIRMED order charged and zero for every
 * other order. Orders still in the saga (PENDING, AUTHORIZED) are left out; so are orders parked
 * in REQUIRES_ATTENTION (their compensation is on its way) unless the system has `settled`.
 */
export async function auditPayments(
  sql: Sql,
  ledger: readonly PaymentLedgerEntry[],
  options: PaymentAuditOptions = {},
): Promise<InvariantReport[]> {
  const succeeded = ledger.filter((entry) => entry.outcome === 'succeeded');
  const authorizations = new Map<string, PaymentLedgerEntry>();
  const captures = new Map<string, PaymentLedgerEntry[]>();
  const capturedCents = new Map<string, number>();
  const refundedCents = new Map<string, number>();
  const voided = new Set<string>();
  const add = (totals: Map<string, number>, key: string, cents: number) =>
    totals.set(key, (totals.get(key) ?? 0) + cents);
  // Per order: what the provider took from the customer and gave back.
  const netCharged = new Map<string, number>();
  for (const entry of succeeded) {
    if (entry.operation === 'capture') add(netCharged, entry.orderId, entry.amountCents);
    if (entry.operation === 'refund') add(netCharged, entry.orderId, -entry.amountCents);
    if (!entry.authorizationId) continue;
    if (entry.operation === 'authorize') authorizations.set(entry.authorizationId, entry);
    if (entry.operation === 'capture') {
      captures.set(entry.authorizationId, [...(captures.get(entry.authorizationId) ?? []), entry]);
      add(capturedCents, entry.authorizationId, entry.amountCents);
    }
    if (entry.operation === 'void') voided.add(entry.authorizationId);
    if (entry.operation === 'refund') add(refundedCents, entry.authorizationId, entry.amountCents);
  }

  const doubleCaptures = [...captures.entries()].filter(([, list]) => list.length > 1).map(([id]) => id);
  const overCaptured = [...captures.entries()]
    .filter(
      ([id, list]) =>
        list.reduce((sum, c) => sum + c.amountCents, 0) > (authorizations.get(id)?.amountCents ?? 0),
    )
    .map(([id]) => id);
  const refundsWithoutCapture = [...refundedCents.entries()]
    .filter(([id, refunded]) => refunded > (capturedCents.get(id) ?? 0))
    .map(([authorizationId, refundedTotal]) => ({
      authorizationId,
      refundedCents: refundedTotal,
      capturedCents: capturedCents.get(authorizationId) ?? 0,
    }));

  const orders = await sql<{ id: string; status: string; charge_cents: number }[]>`
    select id, status, charge_cents from orders
  `;
  const statusOf = new Map(orders.map((o) => [o.id, o]));
  const open = new Set(['PENDING', 'AUTHORIZED', ...(options.settled ? [] : ['REQUIRES_ATTENTION'])]);
  // An order parked in REQUIRES_ATTENTION holds its authorization until the compensation worker or
  // an operator finishes; that it is on record is audited by auditDatabase.
  const parked = new Set(orders.filter((o) => open.has(o.status)).map((o) => o.id));
  const unsettled = [...authorizations.entries()]
    .filter(([id, entry]) => !captures.has(id) && !voided.has(id) && !parked.has(entry.orderId))
    .map(([id]) => id);

  const capturedOrders = new Map<string, number>();
  for (const list of captures.values()) {
    const orderId = list[0]?.orderId as string;
    capturedOrders.set(orderId, (capturedOrders.get(orderId) ?? 0) + list.length);
  }
  const confirmedNotCapturedOnce = orders
    .filter((o) => o.status === 'CONFIRMED' && o.charge_cents > 0 && capturedOrders.get(o.id) !== 1)
    .map((o) => o.id);
  // Every order the database or the provider knows, except those still on their way.
  const chargedWrongly = [...new Set([...orders.map((o) => o.id), ...netCharged.keys()])]
    .filter((id) => !parked.has(id))
    .map((id) => {
      const order = statusOf.get(id);
      const expected = order?.status === 'CONFIRMED' ? Number(order.charge_cents) : 0;
      return {
        orderId: id,
        status: order?.status ?? 'unknown to the database',
        expected,
        net: netCharged.get(id) ?? 0,
      };
    })
    .filter((o) => o.net !== o.expected);

  return [
    report('no authorization is captured twice', doubleCaptures),
    report('captured amount never exceeds the authorized amount', overCaptured),
    report('no refund without a capture: refunds never exceed what was captured', refundsWithoutCapture),
    report('every authorization ends captured or voided', unsettled),
    report('every confirmed card order is captured exactly once', confirmedNotCapturedOnce),
    report(
      'captures minus refunds equal the charge of a confirmed order, and zero for any other order',
      chargedWrongly,
    ),
  ];
}

/** The one test payment method with no provider behaviour of its own: authorize and capture succeed. */
export const HEALTHY_CARD = 'pm_card_visa';

/**
 * The cancellation reason of an order whose payment step outlasted its retries with the circuit
 * breaker open: the provider was failing (the breaker counts only provider timeouts and transient
 * errors), so no call of this order reached it and the provider's ledger has no entry for it.
 */
export const PROVIDER_UNAVAILABLE = 'PAYMENT_PROVIDER_UNAVAILABLE';

/**
 * Healthy card orders cancelled anyway: `pm_card_visa` orders the provider never failed, yet
 * CANCELLED. The provider failed an order when it failed or declined one of the order's calls
 * (the ledger), or when the open breaker refused them for it (`PROVIDER_UNAVAILABLE`). Any other
 * such order was cancelled by an infrastructure fault (a database restart, a lost connection, a
 * record that failed after its side effect), which must never happen (the goal is 0). Read with
 * the ledger of the whole run, on a settled system; `orderIds` limits it to the orders of a fault
 * run (orders a benchmark cancelled itself have no saga to blame).
 */
export async function auditHealthyCardOrders(
  sql: Sql,
  ledger: readonly PaymentLedgerEntry[],
  orderIds?: readonly string[],
): Promise<InvariantReport> {
  const hitByProvider = new Set(ledger.filter((e) => e.outcome !== 'succeeded').map((e) => e.orderId));
  const cancelled = await sql<{ id: string; reason: string | null }[]>`
    select id, cancellation_reason as reason
    from orders
    where status = 'CANCELLED'
      and payment_method = ${HEALTHY_CARD}
      and cancellation_reason is distinct from ${PROVIDER_UNAVAILABLE}
      and (${orderIds === undefined} or id = any (${orderIds ?? []}::uuid[]))
  `;
  return report(
    'no healthy card order (pm_card_visa, never failed by the provider) is cancelled by an infrastructure fault',
    cancelled.filter((o) => !hitByProvider.has(o.id)).map((o) => ({ orderId: o.id, reason: o.reason })),
  );
}

function report(name: string, offenders: readonly unknown[]): InvariantReport {
  return { name, violations: offenders.length, examples: offenders.slice(0, EXAMPLES) };
}
