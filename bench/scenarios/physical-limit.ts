import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSql, type Sql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import type { BenchContext } from '../lib/context.js';
import { type CpuUse, type MeteredProcesses, startBackendCpuMeter, startCpuMeter } from '../lib/cpu.js';
import { cancelDirectOrders, createProducts } from '../lib/database.js';
import { timedLoop } from '../lib/load.js';
import { type LatencySummary, round, summarize } from '../lib/stats.js';

const run = promisify(execFile);

/** One loop against the database: what ran, on which rows, how fast. */
export interface LoopResult {
  readonly tps: number;
  readonly transactions: number;
  readonly seconds: number;
  readonly latencyMs?: LatencySummary;
  /** CPU while it ran, in cores (pgbench itself counts as other work). */
  readonly cpu?: CpuUse;
  /**
   * CPU of the PostgreSQL backends serving the loop's own connections, in cores: what its
   * statements cost the server, without the stack's pollers and outbox relay, which `cpu.postgres`
   * includes (the relay publishes every order the checkout loops place).
   */
  readonly ownBackendsCores?: number;
}

/** Milliseconds of CPU per transaction of `loop`, for `cores` used while it ran; undefined if not measured. */
export function cpuMsPerTransaction(loop: LoopResult, cores: number | undefined): number | undefined {
  return cores === undefined ? undefined : round((cores / loop.tps) * 1000, 2);
}

export interface PhysicalLimitResult {
  /** Client connections of every loop: the stack's handler pool size (DB_POOL_MAX), the most transactions its checkouts can have open. */
  readonly connections: number;
  readonly durationSeconds: number;
  readonly spreadRows: number;
  /** `update inventory set reserved = reserved + 1 where sku = $1 and on_hand - reserved >= 1`, postgres.js like the app (prepare: false). */
  readonly singleStatement: { readonly hotRow: LoopResult; readonly spreadRows: LoopResult };
  /** The same statement from pgbench (C client, prepared statements), when pgbench is installed. */
  readonly pgbench?: {
    readonly hotRow: LoopResult;
    readonly spreadRows: LoopResult;
    readonly version: string;
  };
  /** The checkout transaction itself: `OrderStore.placeOrder` (one `place_order` call), 1-line carts. */
  readonly checkoutTransaction: { readonly hotRow: LoopResult; readonly spreadRows: LoopResult };
  /**
   * Both on the hot row from a single connection (no lock waits): how long each transaction takes,
   * which on a hot row is how long its row lock is held. Their ratio is the hot-row ratio if
   * nothing but the lock mattered.
   */
  readonly uncontended: { readonly singleStatement: LoopResult; readonly checkoutTransaction: LoopResult };
}

/**
 * Scenario 3: the physical limit of the stock update on this database, and the checkout
 * transaction measured the same way, so their ratio says how much the checkout adds around the
 * one statement that cannot be avoided. Bench-owned SKUs with stock that never runs out; the
 * bumped `reserved` counts are reset and the orders placed here are released and cancelled
 * afterwards, so the invariant audit sees a consistent database.
 */
export async function measurePhysicalLimit(ctx: BenchContext): Promise<PhysicalLimitResult> {
  const { durationSeconds, connections } = ctx.sizes.physicalLimit;
  const hot = `${ctx.prefix}-PHYS-HOT`;
  const spread = Array.from({ length: 1000 }, (_, i) => `${ctx.prefix}-PHYS-${String(i).padStart(4, '0')}`);
  // Far more than any loop can reserve, so every statement finds stock and does its write.
  const onHand = 1_000_000_000;
  await createProducts(
    ctx.sql,
    [hot, ...spread].map((sku) => ({ sku, priceCents: 100, onHand })),
  );
  for (const sku of [hot, ...spread]) ctx.initialStock[sku] = onHand;
  const pick = () => spread[Math.floor(Math.random() * spread.length)] as string;

  const applicationName = `${ctx.prefix}-physical-limit`;
  const pool = createSql(ctx.target.databaseUrl, { max: connections, applicationName });
  const durationMs = durationSeconds * 1000;
  const loop = (loopMs: number, concurrency: number, task: () => Promise<unknown>) =>
    timeLoop(
      { processes: ctx.target, backends: { sql: ctx.sql, applicationName } },
      loopMs,
      concurrency,
      task,
    );
  try {
    // Connections opened before the clock starts, as pgbench reports "without connection time".
    await Promise.all(Array.from({ length: connections }, () => pool`select 1`));

    const statement = (sku: string) =>
      pool`update inventory set reserved = reserved + 1 where sku = ${sku} and on_hand - reserved >= 1`;
    ctx.progress.step(`  single statement, hot row (${connections} connections, ${durationSeconds}s)`);
    const singleHot = await loop(durationMs, connections, () => statement(hot));
    ctx.progress.step('  single statement, spread rows');
    const singleSpread = await loop(durationMs, connections, () => statement(pick()));
    await ctx.sql`update inventory set reserved = 0 where sku = any (${[hot, ...spread]}::text[])`;

    let pgbench: PhysicalLimitResult['pgbench'];
    const pgbenchBinary = await findPgbench();
    if (pgbenchBinary) {
      ctx.progress.step('  pgbench, hot row and spread rows');
      const bench = async (script: string): Promise<LoopResult> => {
        const meter = await startCpuMeter(ctx.target);
        const result = await runPgbench(
          pgbenchBinary.path,
          ctx.target.databaseUrl,
          script,
          connections,
          durationSeconds,
        );
        const cpu = await meter.stop();
        return cpu ? { ...result, cpu } : result;
      };
      const hotRow = await bench(
        `update inventory set reserved = reserved + 1 where sku = '${hot}' and on_hand - reserved >= 1;`,
      );
      const spreadRows = await bench(
        [
          '\\set n random(0, 999)',
          `update inventory set reserved = reserved + 1 where sku = '${ctx.prefix}-PHYS-' || lpad(:n::text, 4, '0') and on_hand - reserved >= 1;`,
        ].join('\n'),
      );
      await ctx.sql`update inventory set reserved = 0 where sku = any (${[hot, ...spread]}::text[])`;
      pgbench = { hotRow, spreadRows, version: pgbenchBinary.version };
    } else {
      ctx.progress.step('  pgbench not installed: the postgres.js loop is the physical limit');
    }

    const orders = new OrderStore(pool);
    const placed: string[] = [];
    const placeOrder = async (sku: string) => {
      const orderId = randomUUID();
      const result = await orders.placeOrder({
        orderId,
        customerId: `${ctx.prefix}-physical`,
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        storeCreditCents: 0,
        items: [{ sku, quantity: 1 }],
        correlationId: orderId,
      });
      if (result.outcome !== 'PLACED') throw new Error(`place_order answered ${result.outcome}`);
      placed.push(orderId);
    };
    ctx.progress.step('  one connection, hot row: single statement and checkout transaction');
    const serviceMs = Math.max(500, durationMs / 5);
    const uncontended = {
      singleStatement: await loop(serviceMs, 1, () => statement(hot)),
      checkoutTransaction: await loop(serviceMs, 1, () => placeOrder(hot)),
    };
    await ctx.sql`update inventory set reserved = reserved - ${uncontended.singleStatement.transactions} where sku = ${hot}`;
    ctx.progress.step('  checkout transaction (place_order), hot row');
    const checkoutHot = await loop(durationMs, connections, () => placeOrder(hot));
    ctx.progress.step('  checkout transaction (place_order), spread rows');
    const checkoutSpread = await loop(durationMs, connections, () => placeOrder(pick()));
    ctx.progress.step(`  cancelling the ${placed.length} orders placed directly`);
    await cancelDirectOrders(ctx.sql, placed, 'BENCH_PHYSICAL_LIMIT');

    return {
      connections,
      durationSeconds,
      spreadRows: spread.length,
      singleStatement: { hotRow: singleHot, spreadRows: singleSpread },
      ...(pgbench ? { pgbench } : {}),
      checkoutTransaction: { hotRow: checkoutHot, spreadRows: checkoutSpread },
      uncontended,
    };
  } finally {
    await pool.end({ timeout: 5 });
  }
}

/** Runs `task` on `connections` at once for `durationMs`, metering the machine and the loop's backends. */
async function timeLoop(
  meters: { processes: MeteredProcesses; backends: { sql: Sql; applicationName: string } },
  durationMs: number,
  connections: number,
  task: () => Promise<unknown>,
): Promise<LoopResult> {
  const meter = await startCpuMeter(meters.processes);
  const backends = await startBackendCpuMeter(meters.backends.sql, meters.backends.applicationName);
  const result = await timedLoop({ durationMs, concurrency: connections, task });
  const cpu = await meter.stop();
  const ownBackendsCores = await backends.stop();
  const seconds = result.elapsedMs / 1000;
  return {
    tps: round(result.completed / seconds, 1),
    transactions: result.completed,
    seconds: round(seconds),
    latencyMs: summarize(result.latenciesMs),
    ...(cpu ? { cpu } : {}),
    ...(ownBackendsCores === undefined ? {} : { ownBackendsCores }),
  };
}

async function findPgbench(): Promise<{ path: string; version: string } | undefined> {
  try {
    const { stdout } = await run('pgbench', ['--version']);
    return { path: 'pgbench', version: stdout.trim() };
  } catch {
    return undefined;
  }
}

/** pgbench with a custom script, prepared statements, `connections` clients on 2 threads. */
async function runPgbench(
  binary: string,
  databaseUrl: string,
  script: string,
  connections: number,
  seconds: number,
): Promise<LoopResult> {
  const url = new URL(databaseUrl);
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-pgbench-'));
  try {
    const file = path.join(dir, 'script.sql');
    await writeFile(file, `${script}\n`);
    const { stdout } = await run(
      binary,
      [
        '--no-vacuum',
        `--client=${connections}`,
        '--jobs=2',
        `--time=${Math.max(1, Math.round(seconds))}`,
        '--protocol=prepared',
        `--file=${file}`,
        `--host=${url.hostname}`,
        `--port=${url.port || '5432'}`,
        `--username=${decodeURIComponent(url.username)}`,
        decodeURIComponent(url.pathname.slice(1)) || 'postgres',
      ],
      { env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) }, timeout: 60_000 },
    );
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${stdout}`);
    return { tps: round(tps, 1), transactions, seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
