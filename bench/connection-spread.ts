/**
 * `npx tsx bench/connection-spread.ts [--blocks 6] [--per-block 200] [--connections 8]
 * [--pauses 2,20] [--clients 4]`: the
 * database's side of a happy card checkout (its five statements) on one connection against the
 * same statements spread as the stack spreads them: the API's statement on one pool, the
 * authorization's two on another, the capture's two on a third, each pool of `--connections`
 * backends taken in turn (one container each, as the local functions run), so each backend runs
 * an eighth of its function's statements and waits between them. Blocks interleaved, every
 * backend's CPU from the scheduler, on a server of its own with nothing else running on it.
 * It separates what spreading the work over many backends costs from what sharing the machine
 * with the stack costs (docs/capacity.md, "The database's cost per checkout"); `--clients` adds
 * PostgreSQL kept busy by several clients at once, the nearest this machine gets to a production
 * database under load.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { findFreePort } from '../local/ports.js';
import { startRestartablePostgres } from '../local/postgres.js';
import { createSql, type Sql } from '../src/db/client.js';
import { migrate } from '../src/db/migrations.js';
import { OrderStore } from '../src/db/orders.js';
import { createProducts } from './lib/database.js';
import { processCpuNs } from './lib/postgres-processes.js';
import { median, round } from './lib/stats.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    blocks: { type: 'string', default: '6' },
    'per-block': { type: 'string', default: '200' },
    connections: { type: 'string', default: '8' },
    /**
     * Pauses between one checkout's statements on one connection, in milliseconds, each a
     * variant of its own (`--pauses 0,2,10`): the stack's backends wait between statements while
     * other processes run, so this prices a backend's caches going cold apart from the stack.
     */
    pauses: { type: 'string' },
    /**
     * Clients running checkouts at once, each on its own connection of each pool (`--clients 4`), a
     * variant of its own: PostgreSQL kept busy by the checkouts alone, as a production database
     * under load is, where statements follow statements on every core and commits share a flush.
     */
    clients: { type: 'string' },
  },
});
const blocks = Number(values.blocks);
const perBlock = Number(values['per-block']);
const spread = Number(values.connections);
const clients = values.clients === undefined ? 0 : Number(values.clients);
if (values.clients !== undefined && !(Number.isInteger(clients) && clients > 1 && clients <= spread)) {
  console.error(`--clients must be an integer from 2 to --connections (${spread}), got "${values.clients}"`);
  process.exit(2);
}

interface Backend {
  readonly sql: Sql;
  readonly orders: OrderStore;
  readonly pid: number;
}

const work = await mkdtemp(path.join(tmpdir(), 'connection-spread-'));
const postgres = await startRestartablePostgres({
  dataDir: path.join(work, 'postgres'),
  port: await findFreePort(),
});
const backends: Backend[] = [];
try {
  const admin = createSql(postgres.adminUrl, { max: 1 });
  await migrate(admin, { directory: path.resolve(import.meta.dirname, '../migrations') });
  const skus = Array.from({ length: 100 }, (_, i) => `SPREAD-${i}`);
  await createProducts(
    admin,
    skus.map((sku) => ({ sku, priceCents: 100, onHand: 1_000_000 })),
  );
  await admin.end({ timeout: 5 });
  const open = async (): Promise<Backend> => {
    // Never closed for idling: a pause variant leaves the pools idle longer than the default 30 s.
    const sql = createSql(postgres.adminUrl, {
      max: 1,
      applicationName: 'checkout-bench-spread',
      idleTimeoutSeconds: 3600,
    });
    const [{ pid } = { pid: 0 }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const backend = { sql, orders: new OrderStore(sql), pid };
    backends.push(backend);
    return backend;
  };
  const one = await open();
  const pools = [[], [], []] as Backend[][];
  for (const pool of pools) for (let i = 0; i < spread; i++) pool.push(await open());

  let n = 0;
  const checkout = async (place: Backend, authorize: Backend, capture: Backend, pauseMs = 0) => {
    const pause = async () => {
      if (pauseMs > 0) await sleep(pauseMs);
    };
    const orderId = randomUUID();
    const sku = skus[n++ % skus.length] as string;
    await place.orders.placeOrFindOrder({
      orderId,
      customerId: 'bench-spread',
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      storeCreditCents: 0,
      items: [{ sku, quantity: 1 }],
      correlationId: 'bench-spread',
    });
    await pause();
    await authorize.orders.getPaymentView(orderId);
    await pause();
    await authorize.orders.markAuthorized(orderId, `auth-${orderId}`, 'bench-spread');
    await pause();
    await capture.orders.getPaymentView(orderId);
    await pause();
    await capture.orders.captureAndConfirm(orderId, `cap-${orderId}`, 'bench-spread');
    await pause();
  };
  const pauses = (values.pauses ?? '').split(',').filter(Boolean).map(Number);
  const variants = [
    { name: 'one connection', run: (_: number) => checkout(one, one, one), cpu: [] as number[] },
    ...pauses.map((pauseMs) => ({
      name: `one connection, ${pauseMs} ms between statements`,
      run: (_: number) => checkout(one, one, one, pauseMs),
      cpu: [] as number[],
    })),
    {
      name: `three pools of ${spread} connections, taken in turn`,
      run: (i: number) =>
        checkout(
          pools[0]?.[i % spread] as Backend,
          pools[1]?.[i % spread] as Backend,
          pools[2]?.[i % spread] as Backend,
        ),
      cpu: [] as number[],
    },
    ...(clients > 0
      ? [
          {
            name: `${clients} clients at once, each on its own connection of each pool`,
            // One call runs a checkout on each client's connections at once: `clients` checkouts.
            run: () =>
              Promise.all(
                Array.from({ length: clients }, (_, client) =>
                  checkout(
                    pools[0]?.[client] as Backend,
                    pools[1]?.[client] as Backend,
                    pools[2]?.[client] as Backend,
                  ),
                ),
              ).then(() => undefined),
            checkoutsPerRun: clients,
            cpu: [] as number[],
          },
        ]
      : []),
  ];
  const checkoutsPer = (variant: { checkoutsPerRun?: number }) => variant.checkoutsPerRun ?? 1;
  const total = async () => {
    let ns = 0;
    for (const backend of backends) ns += await processCpuNs(backend.pid);
    return ns;
  };
  // Every backend warm: its plans made, the functions compiled.
  for (const variant of variants) for (let i = 0; i < 5 * spread; i++) await variant.run(i);
  const load = [loadavg()[0] ?? 0];
  for (let block = 0; block < blocks; block++) {
    const order = block % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const before = await total();
      const runs = Math.ceil(perBlock / checkoutsPer(variant));
      for (let i = 0; i < runs; i++) await variant.run(i);
      variant.cpu.push(((await total()) - before) / 1e6 / (runs * checkoutsPer(variant)));
    }
  }
  load.push(loadavg()[0] ?? 0);
  console.log(
    JSON.stringify(
      {
        loadAverage: load.map((l) => round(l, 2)),
        checkoutsPerVariant: blocks * perBlock,
        variants: variants.map((v) => ({
          name: v.name,
          backendCpuMsMedian: round(median(v.cpu), 4),
          blocks: v.cpu.map((c) => round(c, 3)),
        })),
      },
      null,
      2,
    ),
  );
} finally {
  for (const backend of backends) await backend.sql.end({ timeout: 5 });
  await postgres.stop();
  await rm(work, { recursive: true, force: true });
}
