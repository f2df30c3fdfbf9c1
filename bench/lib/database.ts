import type { Sql } from 'postgres';
import type { CheckoutExchange } from './api.js';
import type { BenchContext } from './context.js';

export interface BenchProduct {
  readonly sku: string;
  readonly priceCents: number;
  readonly onHand: number;
}

/**
 * Creates bench fixtures in one statement each (products, then their inventory). Only for SKUs
 * the bench owns; the measured scenarios still go through the API or the application's stores.
 */
export async function createProducts(sql: Sql, products: readonly BenchProduct[]): Promise<void> {
  const skus = products.map((p) => p.sku);
  await sql`
    insert into products (sku, name, price_cents, currency)
    select sku, 'Bench ' || sku, price, 'USD'
    from unnest(${skus}::text[], ${products.map((p) => p.priceCents)}::bigint[]) as p (sku, price)
  `;
  await sql`
    insert into inventory (sku, on_hand)
    select sku, on_hand
    from unnest(${skus}::text[], ${products.map((p) => p.onHand)}::integer[]) as i (sku, on_hand)
  `;
}

/** How many of the orders are in one of `statuses`. */
export async function countInStatus(sql: Sql, orderIds: readonly string[], statuses: readonly string[]) {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count
    from orders
    where id = any (${orderIds as string[]}::uuid[])
      and status = any (${statuses as string[]}::text[])
  `;
  return row?.count ?? 0;
}

/**
 * Milliseconds from sending each accepted POST to its order's CONFIRMED event, read from the
 * database (`order_events.created_at` is `clock_timestamp()` on this same machine's clock), so
 * the bench does not have to poll every order over HTTP while it measures.
 */
export async function confirmationLatencies(
  sql: Sql,
  exchanges: readonly CheckoutExchange[],
): Promise<number[]> {
  const sentAt = new Map(exchanges.filter((e) => e.orderId).map((e) => [e.orderId as string, e.sentAt]));
  if (sentAt.size === 0) return [];
  const rows = await sql<{ order_id: string; at: number }[]>`
    select order_id, extract(epoch from created_at) * 1000 as at
    from order_events
    where order_id = any (${[...sentAt.keys()]}::uuid[])
      and to_status = 'CONFIRMED'
  `;
  return rows.map((row) => Number(row.at) - (sentAt.get(row.order_id) as number));
}

/**
 * Cancels orders the bench placed straight through the order store (no saga runs for them) with
 * the system's own compensation functions: release the reservations, refund the store credit,
 * cancel. The stack's sweeper then never sees them and the audit finds them fully compensated.
 * Chunked to stay well inside the role's statement_timeout; throws if any order was not cancelled.
 */
export async function cancelDirectOrders(
  sql: Sql,
  orderIds: readonly string[],
  reason: string,
): Promise<void> {
  for (let start = 0; start < orderIds.length; start += 500) {
    const chunk = orderIds.slice(start, start + 500) as string[];
    await sql`select release_reservations(id, 'bench') from unnest(${chunk}::uuid[]) as o (id)`;
    await sql`select refund_store_credit(id, 'bench') from unnest(${chunk}::uuid[]) as o (id)`;
    const refused = await sql<{ id: string; result: unknown }[]>`
      select id, result
      from unnest(${chunk}::uuid[]) as o (id)
      cross join lateral cancel_order(id, ${reason}, 'bench') as result
      where result ->> 'outcome' not in ('APPLIED', 'UNCHANGED')
    `;
    if (refused.length > 0) {
      throw new Error(`could not cancel ${refused.length} bench orders, e.g. ${JSON.stringify(refused[0])}`);
    }
  }
}

/** Orders by status and failed compensations by status, across the whole database. */
export async function systemState(sql: Sql): Promise<{
  orders: Record<string, number>;
  compensations: Record<string, number>;
}> {
  const orders = await sql<{ status: string; count: number }[]>`
    select status, count(*)::int as count from orders group by status
  `;
  const compensations = await sql<{ status: string; count: number }[]>`
    select status, count(*)::int as count from failed_compensations group by status
  `;
  return {
    orders: Object.fromEntries(orders.map((r) => [r.status, r.count])),
    compensations: Object.fromEntries(compensations.map((r) => [r.status, r.count])),
  };
}

/** PostgreSQL's version string, e.g. `16.4`. */
export async function serverVersion(sql: Sql): Promise<string> {
  const [row] = await sql<{ server_version: string }[]>`show server_version`;
  return row?.server_version ?? 'unknown';
}

/** When the last of these orders reached CONFIRMED (epoch ms, the database's clock), if any did. */
export async function lastConfirmationAt(sql: Sql, orderIds: readonly string[]): Promise<number | undefined> {
  const [row] = await sql<{ at: number | null }[]>`
    select extract(epoch from max(created_at)) * 1000 as at
    from order_events
    where order_id = any (${orderIds as string[]}::uuid[])
      and to_status = 'CONFIRMED'
  `;
  return row?.at == null ? undefined : Number(row.at);
}

/**
 * `count` SKUs of this run (`<prefix>-<tag>-0000`...) with `onHand` each, recorded as the initial
 * stock the no-oversell audit starts from.
 */
export async function createRunSkus(
  ctx: Pick<BenchContext, 'sql' | 'prefix' | 'initialStock'>,
  options: {
    readonly tag: string;
    readonly count: number;
    readonly priceCents: number;
    readonly onHand: number;
  },
): Promise<string[]> {
  const digits = Math.max(3, String(options.count - 1).length);
  const skus = Array.from(
    { length: options.count },
    (_, i) => `${ctx.prefix}-${options.tag}-${String(i).padStart(digits, '0')}`,
  );
  await createProducts(
    ctx.sql,
    skus.map((sku) => ({ sku, priceCents: options.priceCents, onHand: options.onHand })),
  );
  for (const sku of skus) ctx.initialStock[sku] = options.onHand;
  return skus;
}
