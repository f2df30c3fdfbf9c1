import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import type { BenchContext } from '../lib/context.js';
import { createRunSkus } from '../lib/database.js';
import { processCpuNs } from '../lib/postgres-processes.js';
import { median, round } from '../lib/stats.js';
import { checkoutStatements } from './cost-decomposition.js';

/**
 * The database's side of a happy card checkout two ways, interleaved on one connection (A B A B,
 * blocks of `perBlock` checkouts): the seven statements of the release before migration 0015
 * (read, place; read, mark authorized; read, mark captured, confirm) against its five (place or
 * find; view, mark authorized; view, capture and confirm). The provider is left out: only
 * PostgreSQL's work is compared. Backend CPU from the scheduler per block; interleaving keeps a machine
 * whose speed drifts (other work starting and stopping) from favouring either.
 */
export interface RoundTripAb {
  readonly checkoutsPerVariant: number;
  readonly variants: readonly {
    readonly name: string;
    readonly statements: number;
    /** Median over the blocks of the backend's CPU per checkout (ms). */
    readonly backendCpuMs: number;
    /** Every block's figure, in run order. */
    readonly blocksCpuMs: readonly number[];
    readonly wallMs: number;
  }[];
}

type Checkout = (orders: OrderStore, sku: string) => Promise<void>;

const correlation = 'bench-round-trip-ab';

const before: Checkout = async (orders, sku) => {
  const orderId = randomUUID();
  const input = {
    orderId,
    customerId: 'bench-ab',
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 0,
    items: [{ sku, quantity: 1 }],
    correlationId: correlation,
  };
  await orders.getOrder(orderId);
  await orders.placeOrder(input);
  await orders.getOrder(orderId);
  await orders.markAuthorized(orderId, `auth-${orderId}`, correlation);
  await orders.getOrder(orderId);
  await orders.markCaptured(orderId, `cap-${orderId}`, correlation);
  await orders.confirm(orderId, correlation);
};

/** The same checkout after migration 0015: its five statements. */
const after: Checkout = (orders, sku) => checkoutStatements(orders, sku, correlation);

export async function roundTripAb(
  ctx: Pick<BenchContext, 'sql' | 'prefix' | 'initialStock' | 'target' | 'progress'>,
  options: { readonly perBlock: number; readonly blocks: number },
): Promise<RoundTripAb> {
  const skus = await createRunSkus(ctx, { tag: 'AB', count: 100, priceCents: 100, onHand: 1_000_000 });
  const sql: Sql = createSql(ctx.target.databaseUrl, { max: 1, applicationName: 'checkout-bench-ab' });
  try {
    const orders = new OrderStore(sql);
    const [{ pid } = { pid: 0 }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const variants = [
      {
        name: 'before 0015: 7 statements',
        statements: 7,
        run: before,
        cpu: [] as number[],
        wall: [] as number[],
      },
      {
        name: 'after 0015: 5 statements',
        statements: 5,
        run: after,
        cpu: [] as number[],
        wall: [] as number[],
      },
    ];
    let n = 0;
    // Warm both paths' plans first.
    for (const variant of variants)
      for (let i = 0; i < 20; i++) await variant.run(orders, skus[n++ % skus.length] as string);
    for (let block = 0; block < options.blocks; block++) {
      for (const variant of variants) {
        const cpuBefore = await backendSeconds(pid);
        const started = performance.now();
        for (let i = 0; i < options.perBlock; i++)
          await variant.run(orders, skus[n++ % skus.length] as string);
        variant.wall.push((performance.now() - started) / options.perBlock);
        variant.cpu.push((((await backendSeconds(pid)) - cpuBefore) * 1000) / options.perBlock);
      }
    }
    const result = {
      checkoutsPerVariant: options.perBlock * options.blocks,
      variants: variants.map((v) => ({
        name: v.name,
        statements: v.statements,
        backendCpuMs: round(median(v.cpu), 3),
        blocksCpuMs: v.cpu.map((c) => round(c, 3)),
        wallMs: round(median(v.wall), 3),
      })),
    };
    for (const v of result.variants)
      ctx.progress.step(
        `  ${v.name}: ${v.backendCpuMs} ms backend CPU, ${v.wallMs} ms wall per checkout (medians)`,
      );
    return result;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The backend's CPU from the scheduler (ns precision, not /proc/<pid>/stat's 10 ms ticks), in seconds. */
async function backendSeconds(pid: number): Promise<number> {
  return (await processCpuNs(pid)) / 1e9;
}
