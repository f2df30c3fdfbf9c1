import { randomUUID } from 'node:crypto';
import { createPlaceOrder } from '../../src/checkout/place-order.js';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import type { BenchContext } from '../lib/context.js';
import { cancelDirectOrders, createRunSkus } from '../lib/database.js';
import { median, round } from '../lib/stats.js';

export interface TableTouches {
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

export interface RoundTripResult {
  readonly cartLines: number;
  /** Database round trips of the checkout use case (src/checkout/place-order.ts), every repeat. */
  readonly roundTrips: number[];
  /** Rows the checkout transaction wrote, per table (pg_stat_xact_user_tables inside it). */
  readonly rowsWritten: Record<string, TableTouches>;
  readonly totalRowsWritten: number;
  /** Rows it read through indexes or sequential scans. */
  readonly rowsRead: number;
  /** Per table read from: sequential scans and the rows they read, rows fetched through indexes. */
  readonly reads: Record<
    string,
    { readonly seqScans: number; readonly seqRows: number; readonly indexRows: number }
  >;
  /** Median time of the use case (both round trips), milliseconds. */
  readonly useCaseMs: number;
}

export interface RoundTripsResult {
  /** Calls the checkout request makes besides the database, read from the code (not measured here). */
  readonly otherCallsPerCheckout: Record<string, number>;
  readonly carts: RoundTripResult[];
}

/**
 * Scenario 4: round trips and rows touched per checkout for carts of 1, 10 and 50 lines, through
 * the checkout use case and the order store against the stack's own database. Round trips are
 * counted with postgres.js's `debug` hook (one call per query sent); rows come from
 * `pg_stat_xact_user_tables` read inside the transaction that placed the order, so nothing else
 * running on the database can blur them. The saga is not started (a no-op starter): the orders
 * are released and cancelled afterwards.
 */
export async function measureRoundTrips(ctx: BenchContext): Promise<RoundTripsResult> {
  const { cartSizes, repeats } = ctx.sizes.roundTrips;
  const largest = Math.max(...cartSizes);
  const skus = await createRunSkus(ctx, { tag: 'RT', count: largest, priceCents: 250, onHand: 1_000_000 });
  // Part of every order is paid with store credit, so the wallet row and its ledger are on the path.
  const customerId = `${ctx.prefix}-roundtrips`;
  await new WalletStore(ctx.sql).setBalance(customerId, 100_000_000);

  let sent = 0;
  const counting = createSql(ctx.target.databaseUrl, {
    max: 1,
    debug: () => {
      sent += 1;
    },
  });
  const placed: string[] = [];
  const placeOrder = createPlaceOrder({
    orders: new OrderStore(counting),
    sagaStarter: { start: async () => ({ alreadyStarted: false }) },
    sagaStartBuffer: { enqueue: async () => {} },
  });
  const command = (lines: number) => ({
    customerId,
    idempotencyKey: randomUUID(),
    correlationId: randomUUID(),
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 100,
    items: skus.slice(0, lines).map((sku) => ({ sku, quantity: 1 })),
  });

  try {
    await counting`select 1`;
    const carts: RoundTripResult[] = [];
    for (const lines of cartSizes) {
      const roundTrips: number[] = [];
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) {
        sent = 0;
        const started = performance.now();
        const outcome = await placeOrder(command(lines));
        times.push(performance.now() - started);
        roundTrips.push(sent);
        if (outcome.outcome !== 'ACCEPTED') throw new Error(`checkout of ${lines} lines: ${outcome.outcome}`);
        placed.push(outcome.order.orderId);
      }
      const touched = await rowsOfOneCheckout(ctx, customerId, skus.slice(0, lines));
      placed.push(touched.orderId);
      carts.push({
        cartLines: lines,
        roundTrips,
        rowsWritten: touched.rowsWritten,
        totalRowsWritten: Object.values(touched.rowsWritten).reduce(
          (sum, t) => sum + t.inserted + t.updated + t.deleted,
          0,
        ),
        rowsRead: touched.rowsRead,
        reads: touched.reads,
        useCaseMs: round(median(times)),
      });
    }
    return {
      otherCallsPerCheckout: {
        'DynamoDB idempotency record (PutItem in progress, UpdateItem completed)': 2,
        'Step Functions StartExecution': 1,
      },
      carts,
    };
  } finally {
    await counting.end({ timeout: 5 });
    await cancelDirectOrders(ctx.sql, placed, 'BENCH_ROUND_TRIPS');
  }
}

/**
 * Places one order inside a transaction and reads that transaction's own table statistics. A
 * pool of one connection, so `begin` and `commit` enclose exactly these statements (postgres.js
 * allows a hand-written transaction only then); the order store runs on it unchanged.
 */
async function rowsOfOneCheckout(ctx: BenchContext, customerId: string, skus: string[]) {
  const orderId = randomUUID();
  const single = createSql(ctx.target.databaseUrl, { max: 1 });
  try {
    await single`begin`;
    const result = await new OrderStore(single).placeOrder({
      orderId,
      customerId,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      storeCreditCents: 100,
      items: skus.map((sku) => ({ sku, quantity: 1 })),
      correlationId: orderId,
    });
    if (result.outcome !== 'PLACED') throw new Error(`place_order answered ${result.outcome}`);
    const stats = await single<
      {
        relname: string;
        n_tup_ins: number;
        n_tup_upd: number;
        n_tup_del: number;
        seq_scan: number;
        seq_rows: number;
        index_rows: number;
      }[]
    >`
      select relname, n_tup_ins::int, n_tup_upd::int, n_tup_del::int, coalesce(seq_scan, 0)::int as seq_scan,
        coalesce(seq_tup_read, 0)::int as seq_rows, coalesce(idx_tup_fetch, 0)::int as index_rows
      from pg_stat_xact_user_tables
      where n_tup_ins + n_tup_upd + n_tup_del + coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) > 0
      order by relname
    `;
    await single`commit`;
    const rowsWritten: Record<string, TableTouches> = {};
    const reads: RoundTripResult['reads'] = {};
    for (const row of stats) {
      if (row.n_tup_ins + row.n_tup_upd + row.n_tup_del > 0) {
        rowsWritten[row.relname] = {
          inserted: row.n_tup_ins,
          updated: row.n_tup_upd,
          deleted: row.n_tup_del,
        };
      }
      if (row.seq_scan + row.index_rows > 0) {
        reads[row.relname] = { seqScans: row.seq_scan, seqRows: row.seq_rows, indexRows: row.index_rows };
      }
    }
    const rowsRead = stats.reduce((sum, row) => sum + row.seq_rows + row.index_rows, 0);
    return { orderId, rowsWritten, rowsRead, reads };
  } finally {
    await single.end({ timeout: 5 });
  }
}
