import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from 'postgres';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import type { BenchContext } from '../lib/context.js';
import { createRunSkus } from '../lib/database.js';
import { processCpuNs } from '../lib/postgres-processes.js';
import { median, round } from '../lib/stats.js';

/**
 * The pieces of PostgreSQL's cost per checkout that the stack's window cannot separate by itself
 * (docs/capacity.md, "Where PostgreSQL's CPU goes"), each measured on one connection of the bench
 * with the backend's CPU from the scheduler:
 *
 * - **protocol**: postgres.js with `prepare: false` sends a statement with parameters as
 *   Parse/Describe/Flush, waits for the description, then Bind/Execute/Sync: two round trips. A
 *   statement without parameters goes as one (Parse/Bind/Describe/Execute/Sync). `select 1`
 *   against `select $1`, interleaved, prices the second round trip.
 * - **machine contention**: the same `select 1` and `select $1` on one connection while the
 *   stack's load runs, against the same alone: how much more CPU a fixed piece of work takes when
 *   the server shares two cores with the stack (the function containers, the stand-ins, the
 *   load generator), which in AWS run on other machines than the database.
 * - **a new backend**: connecting (fork, authentication) and a first checkout's statements on it
 *   (catalog caches, the order functions compiled, their plans made) against the same statements
 *   on a warm connection.
 */
export interface ProtocolCost {
  readonly statementsPerVariant: number;
  /** Median over blocks of the backend's CPU per statement (µs). */
  readonly oneRoundTripUs: number;
  readonly twoRoundTripsUs: number;
  /** What the second round trip (the describe) adds per statement with parameters (µs). */
  readonly describeRoundTripUs: number;
}

export interface ContentionProbe {
  /** Statements the probe ran in the window (half `select 1`, half `select $1`). */
  readonly statements: number;
  /** Backend CPU per statement while the stack's load ran (µs). */
  readonly underLoadUs: number;
  /** The same probe alone, after the window (µs). */
  readonly aloneUs: number;
  /** underLoad / alone: how much the machine's load inflates a fixed piece of PostgreSQL's work. */
  readonly inflation: number;
}

export interface NewBackendCost {
  readonly connections: number;
  /** A new connection until its first statement has answered (ms of backend CPU): fork, authentication, `select pg_backend_pid()`. */
  readonly connectMs: number;
  /** The first checkout's five statements on a new connection (ms of backend CPU). */
  readonly firstCheckoutMs: number;
  /** The same five statements on a warm connection (ms), medians. */
  readonly warmCheckoutMs: number;
}

export const PROBE_APPLICATION_NAME = 'checkout-bench-probe';
export const NEW_BACKEND_APPLICATION_NAME = 'checkout-bench-new-backend';

async function backendPid(sql: Sql): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  return (row as { pid: number }).pid;
}

const oneRoundTrip = (sql: Sql) => sql`select 1`;
const twoRoundTrips = (sql: Sql, i: number) => sql`select ${i}::int`;

/** `select 1` and `select $1`, interleaved blocks on one connection. */
export async function protocolCost(
  url: string,
  options: { readonly perBlock: number; readonly blocks: number },
): Promise<ProtocolCost> {
  const sql = createSql(url, { max: 1, applicationName: PROBE_APPLICATION_NAME });
  try {
    const pid = await backendPid(sql);
    for (let i = 0; i < 200; i++) {
      await oneRoundTrip(sql);
      await twoRoundTrips(sql, i);
    }
    const one: number[] = [];
    const two: number[] = [];
    for (let block = 0; block < options.blocks; block++) {
      let before = await processCpuNs(pid);
      for (let i = 0; i < options.perBlock; i++) await oneRoundTrip(sql);
      one.push(((await processCpuNs(pid)) - before) / options.perBlock / 1000);
      before = await processCpuNs(pid);
      for (let i = 0; i < options.perBlock; i++) await twoRoundTrips(sql, i);
      two.push(((await processCpuNs(pid)) - before) / options.perBlock / 1000);
    }
    const oneUs = median(one);
    const twoUs = median(two);
    return {
      statementsPerVariant: options.perBlock * options.blocks,
      oneRoundTripUs: round(oneUs, 2),
      twoRoundTripsUs: round(twoUs, 2),
      describeRoundTripUs: round(twoUs - oneUs, 2),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Starts the contention probe: bursts of `select 1` and `select $1` on one connection with pauses
 * between them (about 2,000 statements a second at most, a few percent of one core), until
 * `stop()`, which then runs the same bursts alone and compares.
 */
export async function startContentionProbe(url: string): Promise<{ stop(): Promise<ContentionProbe> }> {
  const sql = createSql(url, { max: 1, applicationName: PROBE_APPLICATION_NAME });
  const pid = await backendPid(sql);
  for (let i = 0; i < 200; i++) {
    await oneRoundTrip(sql);
    await twoRoundTrips(sql, i);
  }
  let running = true;
  let statements = 0;
  const burst = async () => {
    for (let i = 0; i < 25; i++) {
      await oneRoundTrip(sql);
      await twoRoundTrips(sql, i);
    }
    statements += 50;
  };
  const startNs = await processCpuNs(pid);
  const loop = (async () => {
    while (running) {
      await burst();
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const underLoadUs = ((await processCpuNs(pid)) - startNs) / statements / 1000;
      try {
        const quiet = await processCpuNs(pid);
        const counted = statements;
        const target = Math.max(2000, Math.min(counted, 10_000));
        let done = 0;
        while (done < target) {
          await burst();
          done += 50;
        }
        const aloneUs = ((await processCpuNs(pid)) - quiet) / done / 1000;
        return {
          statements: counted,
          underLoadUs: round(underLoadUs, 2),
          aloneUs: round(aloneUs, 2),
          inflation: round(underLoadUs / aloneUs, 2),
        };
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** The database's side of one happy card checkout after migration 0015: its five statements. */
export async function checkoutStatements(orders: OrderStore, sku: string, tag: string): Promise<void> {
  const orderId = randomUUID();
  await orders.placeOrFindOrder({
    orderId,
    customerId: 'bench-ab',
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 0,
    items: [{ sku, quantity: 1 }],
    correlationId: tag,
  });
  await orders.getPaymentView(orderId);
  await orders.markAuthorized(orderId, `auth-${orderId}`, tag);
  await orders.getPaymentView(orderId);
  await orders.captureAndConfirm(orderId, `cap-${orderId}`, tag);
}

/** New connections, each running one checkout's statements, against a warm connection doing the same. */
export async function newBackendCost(
  ctx: Pick<BenchContext, 'sql' | 'prefix' | 'initialStock' | 'target'>,
  options: { readonly connections: number },
): Promise<NewBackendCost> {
  const skus = await createRunSkus(ctx, { tag: 'NB', count: 20, priceCents: 100, onHand: 100_000 });
  const connect: number[] = [];
  const first: number[] = [];
  const warm: number[] = [];
  const warmSql = createSql(ctx.target.databaseUrl, { max: 1, applicationName: NEW_BACKEND_APPLICATION_NAME });
  try {
    const warmOrders = new OrderStore(warmSql);
    const warmPid = await backendPid(warmSql);
    for (let i = 0; i < 20; i++)
      await checkoutStatements(warmOrders, skus[i % skus.length] as string, 'bench-new-backend');
    for (let c = 0; c < options.connections; c++) {
      const sql = createSql(ctx.target.databaseUrl, { max: 1, applicationName: NEW_BACKEND_APPLICATION_NAME });
      try {
        const pid = await backendPid(sql);
        const connected = await processCpuNs(pid);
        await checkoutStatements(new OrderStore(sql), skus[c % skus.length] as string, 'bench-new-backend');
        connect.push(connected / 1e6);
        first.push(((await processCpuNs(pid)) - connected) / 1e6);
      } finally {
        await sql.end({ timeout: 5 });
      }
      const before = await processCpuNs(warmPid);
      await checkoutStatements(warmOrders, skus[c % skus.length] as string, 'bench-new-backend');
      warm.push(((await processCpuNs(warmPid)) - before) / 1e6);
    }
  } finally {
    await warmSql.end({ timeout: 5 });
  }
  return {
    connections: options.connections,
    connectMs: round(median(connect), 3),
    firstCheckoutMs: round(median(first), 3),
    warmCheckoutMs: round(median(warm), 3),
  };
}
