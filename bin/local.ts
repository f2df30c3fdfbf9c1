/**
 * `npm start`: the checkout service on this machine, no AWS account and no Docker needed.
 *
 * Today it brings up the data tier: an embedded PostgreSQL 16 (or DATABASE_URL), the migrations
 * and the demo catalog. The API, saga and queues join it as they are built (see README).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seedDemoCatalog } from '../local/demo-catalog.js';
import { startLocalPostgres } from '../local/postgres.js';
import { createSql } from '../src/db/client.js';
import { migrate } from '../src/db/migrations.js';

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: process.env.LOCAL_DATA_DIR ?? '.local-data' },
  },
});
const dataDir = path.resolve(values['data-dir'] as string);
const log = (message: string) => console.log(`[local] ${message}`);

if (values.fresh) {
  log(`--fresh: deleting ${dataDir}`);
  await rm(dataDir, { recursive: true, force: true });
}

const external = process.env.DATABASE_URL;
let stopPostgres: (() => Promise<void>) | undefined;
let databaseUrl: string;
if (external) {
  databaseUrl = external;
  log('using DATABASE_URL');
} else {
  const port = Number(process.env.LOCAL_POSTGRES_PORT ?? 5433);
  log(`starting PostgreSQL 16 on 127.0.0.1:${port} (data in ${dataDir}/postgres)`);
  const postgres = await startLocalPostgres({ dataDir: path.join(dataDir, 'postgres'), port });
  stopPostgres = postgres.stop;
  databaseUrl = postgres.adminUrl;
}

const sql = createSql(databaseUrl, { max: 2 });
const migrations = await migrate(sql, { directory: path.resolve(import.meta.dirname, '../migrations'), log });
log(migrations.applied.length ? `applied ${migrations.applied.length} migration(s)` : 'schema up to date');
if (await seedDemoCatalog(sql)) log('seeded the demo catalog');
log(`database ready: ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`);
log('press Ctrl-C to stop');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  await sql.end({ timeout: 5 });
  await stopPostgres?.();
  log('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
