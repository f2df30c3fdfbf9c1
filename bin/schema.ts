/**
 * Regenerates the readable schema, `docs/schema.sql`: `npm run schema`. Migrates a fresh database
 * on a throw-away embedded PostgreSQL 16 (or, with DATABASE_URL, a fresh database on that server),
 * dumps it from the catalog and writes the file. Run it after adding a migration.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findFreePort } from '../local/ports.js';
import { type LocalPostgres, startLocalPostgres } from '../local/postgres.js';
import { createSql } from '../src/db/client.js';
import { migrate } from '../src/db/migrations.js';
import { dumpSchema, MIGRATIONS_DIR, SCHEMA_SNAPSHOT, SCHEMA_SNAPSHOT_FILE } from './schema-snapshot.js';

const workDir = await mkdtemp(path.join(tmpdir(), 'checkout-schema-'));
// As root the server runs as `postgres`, which must reach the private temporary folder.
await chmod(workDir, 0o755);
let server: LocalPostgres | undefined;
try {
  const external = process.env.DATABASE_URL;
  server = external
    ? undefined
    : await startLocalPostgres({
        dataDir: path.join(workDir, 'data'),
        port: await findFreePort(),
        ephemeral: true,
      });
  const adminUrl = external ?? (server as LocalPostgres).adminUrl;
  const database = `schema_${randomBytes(6).toString('hex')}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${database}`);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const sql = createSql(url.toString(), { max: 1 });
    try {
      const result = await migrate(sql, { directory: MIGRATIONS_DIR });
      await writeFile(SCHEMA_SNAPSHOT_FILE, await dumpSchema(sql));
      console.log(`wrote ${SCHEMA_SNAPSHOT} (${result.applied.length} migrations)`);
    } finally {
      await sql.end();
    }
  } finally {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  }
} catch (error) {
  console.error(`schema snapshot failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await server?.stop();
  await rm(workDir, { recursive: true, force: true });
}
