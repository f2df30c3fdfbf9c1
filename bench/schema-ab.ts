/**
 * `npx tsx bench/schema-ab.ts --before <version> [--blocks 8] [--per-block 200]`: the database's
 * side of a happy card checkout (its five statements, bench/scenarios/cost-decomposition.ts) on a
 * database migrated up to `<version>` against one migrated to the last migration, on the same
 * server, one connection each, blocks interleaved (A B A B...), each block's backend CPU from
 * the scheduler. What a schema migration saves per checkout, measured as docs/capacity.md asks:
 * CPU time, interleaved, so a machine whose load drifts favours neither side.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findFreePort } from '../local/ports.js';
import { startRestartablePostgres } from '../local/postgres.js';
import { createSql } from '../src/db/client.js';
import { migrate } from '../src/db/migrations.js';
import { OrderStore } from '../src/db/orders.js';
import { createProducts } from './lib/database.js';
import { enableStatementStatistics } from './lib/database-cost.js';
import { processCpuNs } from './lib/postgres-processes.js';
import { median, round } from './lib/stats.js';
import { checkoutStatements } from './scenarios/cost-decomposition.js';

/** The work of one block's iteration: the whole checkout, or only its placement. */
async function unitOfWork(orders: OrderStore, sku: string): Promise<void> {
  if (!values['place-only']) return checkoutStatements(orders, sku, 'ab');
  await orders.placeOrFindOrder({
    orderId: randomUUID(),
    customerId: 'bench-ab',
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    storeCreditCents: 0,
    items: [{ sku, quantity: 1 }],
    correlationId: 'ab',
  });
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    before: { type: 'string' },
    blocks: { type: 'string', default: '8' },
    'per-block': { type: 'string', default: '200' },
    /**
     * Instead of two schemas: the same schema with `pg_stat_statements` loaded, tracking nothing
     * on the first side and every statement, nested ones too, on the second (as the cost bench's
     * server does): what the bench's own statement statistics add to the figures it reports.
     */
    tracking: { type: 'boolean', default: false },
    /** Only the API's statement (`place_or_find_order`), not the whole checkout. */
    'place-only': { type: 'boolean', default: false },
    /** Record a CPU profile (`perf record -g`) of the second side's backend into this file. */
    perf: { type: 'string' },
  },
});
if (!values.before && !values.tracking) throw new Error('--before <migration version> is required');
const beforeVersion = values.tracking ? Number.POSITIVE_INFINITY : Number(values.before);
const blocks = Number(values.blocks);
const perBlock = Number(values['per-block']);
const MIGRATIONS = path.resolve(import.meta.dirname, '../migrations');

const work = await mkdtemp(path.join(tmpdir(), 'schema-ab-'));
const postgres = await startRestartablePostgres({
  dataDir: path.join(work, 'postgres'),
  port: await findFreePort(),
});
try {
  if (values.tracking) await enableStatementStatistics(postgres.adminUrl, () => postgres.restart('fast'));
  const beforeDir = path.join(work, 'migrations-before');
  await cp(MIGRATIONS, beforeDir, { recursive: true });
  for (const file of await readdir(beforeDir))
    if (Number(file.slice(0, 4)) > beforeVersion) await rm(path.join(beforeDir, file));
  const admin = createSql(postgres.adminUrl, { max: 1 });
  const sides = [];
  const names = values.tracking
    ? ['pg_stat_statements.track = none', 'pg_stat_statements.track = all']
    : [`migrated to ${String(beforeVersion).padStart(4, '0')}`, 'migrated to the last migration'];
  for (const [name, directory] of [
    [names[0] as string, beforeDir],
    [names[1] as string, MIGRATIONS],
  ] as const) {
    const database = `ab_${sides.length}`;
    await admin.unsafe(`create database ${database}`);
    const url = postgres.adminUrl.replace(/\/postgres$/, `/${database}`);
    const sql = createSql(url, { max: 1, applicationName: 'checkout-bench-schema-ab' });
    await migrate(sql, { directory });
    const skus = Array.from({ length: 100 }, (_, i) => `AB-${i}`);
    await createProducts(
      sql,
      skus.map((sku) => ({ sku, priceCents: 100, onHand: 1_000_000 })),
    );
    const [{ pid } = { pid: 0 }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    if (values.tracking)
      await sql.unsafe(`set pg_stat_statements.track = '${sides.length === 0 ? 'none' : 'all'}'`);
    sides.push({ name, sql, orders: new OrderStore(sql), skus, pid, cpu: [] as number[], n: 0 });
  }
  await admin.end({ timeout: 5 });
  const load = [loadavg()[0] ?? 0];
  for (const side of sides)
    for (let i = 0; i < 50; i++)
      await checkoutStatements(side.orders, side.skus[side.n++ % 100] as string, 'ab');
  const profiled = sides[1];
  const perf =
    values.perf && profiled
      ? spawn(
          'perf',
          [
            'record',
            '-F',
            '1999',
            '--call-graph',
            'dwarf,16384',
            '-o',
            values.perf,
            '-p',
            String(profiled.pid),
          ],
          {
            stdio: 'ignore',
          },
        )
      : undefined;
  for (let block = 0; block < blocks; block++) {
    // Alternate which side goes first, so neither always follows the other.
    const order = block % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const before = await processCpuNs(side.pid);
      for (let i = 0; i < perBlock; i++) await unitOfWork(side.orders, side.skus[side.n++ % 100] as string);
      side.cpu.push(((await processCpuNs(side.pid)) - before) / 1e6 / perBlock);
    }
  }
  load.push(loadavg()[0] ?? 0);
  if (perf) {
    const exited = new Promise((resolve) => perf.once('exit', resolve));
    perf.kill('SIGINT');
    await exited;
  }
  const result = sides.map((side) => ({
    side: side.name,
    checkouts: perBlock * blocks,
    backendCpuMsMedian: round(median(side.cpu), 4),
    blocks: side.cpu.map((c) => round(c, 3)),
  }));
  const [a, b] = result as [(typeof result)[0], (typeof result)[0]];
  console.log(
    JSON.stringify(
      {
        loadAverage: load.map((l) => round(l, 2)),
        sides: result,
        saved: `${round(a.backendCpuMsMedian - b.backendCpuMsMedian, 4)} ms per checkout (${round(
          (100 * (a.backendCpuMsMedian - b.backendCpuMsMedian)) / a.backendCpuMsMedian,
          1,
        )} %)`,
        pairwiseSavedMs: a.blocks.map((x, i) => round(x - (b.blocks[i] ?? Number.NaN), 3)),
      },
      null,
      2,
    ),
  );
  for (const side of sides) await side.sql.end({ timeout: 5 });
} finally {
  await postgres.stop();
  await rm(work, { recursive: true, force: true });
}
