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
 * (docs/capacity.md, "The database's cost per checkout"), each measured on one connection of the bench
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
  /** What the describe round trip (`select $1` against `select 1`) costs the backend while the stack's load runs (µs). */
  readonly describeRoundTripUnderLoadUs: number;
  /** The same with the pauses but alone (µs). */
  readonly describeRoundTripAloneUs: number;
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
 * between them, until `stop()`, which then runs the same bursts alone and compares.
 */
export async function startContentionProbe(url: string): Promise<{ stop(): Promise<ContentionProbe> }> {
  const sql = createSql(url, { max: 1, applicationName: PROBE_APPLICATION_NAME });
  const pid = await backendPid(sql);
  for (let i = 0; i < 200; i++) {
    await oneRoundTrip(sql);
    await twoRoundTrips(sql, i);
  }
  // Bursts of 25 of each kind, each burst's backend CPU read around it, with a pause after each
  // pair of bursts (about 2,000 statements a second at most, a few percent of one core).
  const tally = () => ({ oneNs: 0, twoNs: 0, pairs: 0 });
  const burstPair = async (into: ReturnType<typeof tally>) => {
    let before = await processCpuNs(pid);
    for (let i = 0; i < 25; i++) await oneRoundTrip(sql);
    let after = await processCpuNs(pid);
    into.oneNs += after - before;
    before = after;
    for (let i = 0; i < 25; i++) await twoRoundTrips(sql, i);
    after = await processCpuNs(pid);
    into.twoNs += after - before;
    into.pairs++;
  };
  const underLoad = tally();
  let running = true;
  const loop = (async () => {
    while (running) {
      await burstPair(underLoad);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      try {
        const alone = tally();
        const target = Math.max(40, Math.min(underLoad.pairs, 200));
        while (alone.pairs < target) {
          await burstPair(alone);
          await sleep(20);
        }
        const us = (ns: number, pairs: number) => ns / (pairs * 25) / 1000;
        const loadUs = us(underLoad.oneNs + underLoad.twoNs, 2 * underLoad.pairs);
        const aloneUs = us(alone.oneNs + alone.twoNs, 2 * alone.pairs);
        return {
          statements: underLoad.pairs * 50,
          underLoadUs: round(loadUs, 2),
          aloneUs: round(aloneUs, 2),
          inflation: round(loadUs / aloneUs, 2),
          describeRoundTripUnderLoadUs: round(us(underLoad.twoNs - underLoad.oneNs, underLoad.pairs), 2),
          describeRoundTripAloneUs: round(us(alone.twoNs - alone.oneNs, alone.pairs), 2),
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
  const warmSql = createSql(ctx.target.databaseUrl, {
    max: 1,
    applicationName: NEW_BACKEND_APPLICATION_NAME,
  });
  try {
    const warmOrders = new OrderStore(warmSql);
    const warmPid = await backendPid(warmSql);
    for (let i = 0; i < 20; i++)
      await checkoutStatements(warmOrders, skus[i % skus.length] as string, 'bench-new-backend');
    for (let c = 0; c < options.connections; c++) {
      const sql = createSql(ctx.target.databaseUrl, {
        max: 1,
        applicationName: NEW_BACKEND_APPLICATION_NAME,
      });
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

/** The tables a checkout writes: what autovacuum will have to clean after it. */
const CHECKOUT_TABLES = [
  'orders',
  'order_items',
  'payments',
  'order_events',
  'outbox_events',
  'reservations',
  'inventory',
];

export const VACUUM_APPLICATION_NAME = 'checkout-bench-vacuum';

/**
 * VACUUM of the tables a checkout writes, on a connection of its own, its backend's CPU from the
 * scheduler: run once before the measured window (so the warm-up's dead rows are gone) and once
 * after it, it prices the window's vacuum debt: the work autovacuum does later for these checkouts
 * (its naptime, a minute, is longer than the window, so the window itself rarely sees it).
 */
export async function vacuumCheckoutTables(url: string): Promise<number> {
  const sql = createSql(url, { max: 1, applicationName: VACUUM_APPLICATION_NAME });
  try {
    const pid = await backendPid(sql);
    const before = await processCpuNs(pid);
    await sql.unsafe(`vacuum (analyze) ${CHECKOUT_TABLES.join(', ')}`);
    return ((await processCpuNs(pid)) - before) / 1e6;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface LoadAb {
  readonly checkoutsPerVariant: number;
  /** The checkout's five statements on one connection, nothing else running (ms, median of blocks). */
  readonly aloneMs: number;
  /** The same beside the stack's own checkouts at concurrency 4 (ms, median of blocks). */
  readonly besideTheStackMs: number;
  readonly aloneBlocksMs: readonly number[];
  readonly besideBlocksMs: readonly number[];
  /** Stack checkouts sent meanwhile. */
  readonly stackCheckouts: number;
}

/**
 * The same statements on the same connection, alone and while the stack runs its own checkouts
 * (concurrency 4, as the cost window), in interleaved blocks: what sharing the machine with the
 * stack does to a fixed piece of PostgreSQL's work, apart from anything the stack's own
 * statements do differently.
 */
export async function loadAb(
  ctx: Pick<BenchContext, 'sql' | 'prefix' | 'initialStock' | 'target' | 'client'>,
  options: { readonly perBlock: number; readonly blocks: number },
): Promise<LoadAb> {
  const skus = await createRunSkus(ctx, { tag: 'LAB', count: 100, priceCents: 100, onHand: 100_000 });
  const sql = createSql(ctx.target.databaseUrl, { max: 1, applicationName: NEW_BACKEND_APPLICATION_NAME });
  const alone: number[] = [];
  const beside: number[] = [];
  let stackCheckouts = 0;
  let n = 0;
  try {
    const orders = new OrderStore(sql);
    const pid = await backendPid(sql);
    for (let i = 0; i < 20; i++) await checkoutStatements(orders, skus[n++ % 100] as string, 'bench-load-ab');
    const block = async () => {
      const before = await processCpuNs(pid);
      for (let i = 0; i < options.perBlock; i++)
        await checkoutStatements(orders, skus[n++ % 100] as string, 'bench-load-ab');
      return ((await processCpuNs(pid)) - before) / 1e6 / options.perBlock;
    };
    for (let b = 0; b < options.blocks; b++) {
      alone.push(await block());
      let running = true;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        while (running) {
          const i = stackCheckouts++;
          await ctx.client.checkout(`${ctx.prefix}-lab`, `${ctx.prefix}-lab-${w}-${i}`, {
            items: [{ sku: skus[i % 100] as string, quantity: 1 }],
            currency: 'USD',
            paymentMethod: 'pm_card_visa',
            storeCreditCents: 0,
          });
        }
      });
      // Let the stack's load reach its pace before the block starts.
      await sleep(300);
      beside.push(await block());
      running = false;
      await Promise.all(workers);
      // And let its sagas finish before the next block alone.
      await sleep(1_500);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return {
    checkoutsPerVariant: options.perBlock * options.blocks,
    aloneMs: round(median(alone), 3),
    besideTheStackMs: round(median(beside), 3),
    aloneBlocksMs: alone.map((x) => round(x, 3)),
    besideBlocksMs: beside.map((x) => round(x, 3)),
    stackCheckouts,
  };
}

/** Backend CPU per call of each of the checkout's statements on one warm connection (ms, medians of blocks). */
export interface StatementCpu {
  readonly checkouts: number;
  readonly placeOrFindOrderMs: number;
  readonly paymentStepViewMs: number;
  readonly markAuthorizedMs: number;
  readonly captureAndConfirmMs: number;
}

/**
 * The checkout's statements one by one on one warm connection, the backend's CPU read around
 * each call: what each costs PostgreSQL with nothing else in the way (the `place_order` target
 * is about the first).
 */
export async function statementCpu(
  ctx: Pick<BenchContext, 'sql' | 'prefix' | 'initialStock' | 'target'>,
  options: { readonly checkouts: number },
): Promise<StatementCpu> {
  const skus = await createRunSkus(ctx, { tag: 'SC', count: 100, priceCents: 100, onHand: 100_000 });
  const sql = createSql(ctx.target.databaseUrl, { max: 1, applicationName: NEW_BACKEND_APPLICATION_NAME });
  try {
    const orders = new OrderStore(sql);
    const pid = await backendPid(sql);
    for (let i = 0; i < 20; i++)
      await checkoutStatements(orders, skus[i % 100] as string, 'bench-statement-cpu');
    const spent = { place: 0, view: 0, authorize: 0, capture: 0 };
    const timed = async (key: keyof typeof spent, call: () => Promise<unknown>) => {
      const before = await processCpuNs(pid);
      await call();
      spent[key] += (await processCpuNs(pid)) - before;
    };
    for (let i = 0; i < options.checkouts; i++) {
      const orderId = randomUUID();
      const tag = 'bench-statement-cpu';
      await timed('place', () =>
        orders.placeOrFindOrder({
          orderId,
          customerId: 'bench-ab',
          currency: 'USD',
          paymentMethod: 'pm_card_visa',
          storeCreditCents: 0,
          items: [{ sku: skus[i % 100] as string, quantity: 1 }],
          correlationId: tag,
        }),
      );
      await timed('view', () => orders.getPaymentView(orderId));
      await timed('authorize', () => orders.markAuthorized(orderId, `auth-${orderId}`, tag));
      await timed('view', () => orders.getPaymentView(orderId));
      await timed('capture', () => orders.captureAndConfirm(orderId, `cap-${orderId}`, tag));
    }
    const ms = (ns: number, calls: number) => round(ns / 1e6 / calls, 3);
    return {
      checkouts: options.checkouts,
      placeOrFindOrderMs: ms(spent.place, options.checkouts),
      paymentStepViewMs: ms(spent.view, 2 * options.checkouts),
      markAuthorizedMs: ms(spent.authorize, options.checkouts),
      captureAndConfirmMs: ms(spent.capture, options.checkouts),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
