import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createSql } from '../../src/db/client.js';
import { loadMigrations, MigrationChecksumMismatchError, migrate } from '../../src/db/migrations.js';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { createTestDatabase, MIGRATIONS_DIR, type TestDatabase } from '../support/database.js';

describe('migration runner', () => {
  let db: TestDatabase;
  let workDir: string;

  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
    workDir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await cp(MIGRATIONS_DIR, workDir, { recursive: true });
  });

  afterEach(async () => {
    await db.drop();
    await rm(workDir, { recursive: true, force: true });
  });

  test('applies every migration to a fresh database, in order, with checksums', async () => {
    const files = (await loadMigrations(MIGRATIONS_DIR)).map((m) => m.file);

    const result = await migrate(db.sql, { directory: workDir });

    expect(result.applied).toEqual(files);
    const rows = await db.sql<{ version: number; checksum: string }[]>`
      select version, checksum from schema_migrations order by version
    `;
    expect(rows.map((row) => row.version)).toEqual(files.map((file) => Number(file.slice(0, 4))));
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.checksum))).toBe(true);
    const [tables] = await db.sql<{ count: number }[]>`
      select count(*)::int as count from pg_tables
      where schemaname = 'public'
        and tablename in ('products', 'inventory', 'reservations', 'orders', 'order_items', 'payments',
          'store_credit_wallets', 'wallet_transactions', 'failed_compensations', 'outbox_events', 'order_events')
    `;
    expect(tables?.count).toBe(11);
  });

  test('a second run is a no-op', async () => {
    await migrate(db.sql, { directory: workDir });

    const second = await migrate(db.sql, { directory: workDir });

    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBeGreaterThan(0);
  });

  test('refuses to run when an applied file was edited, naming the file', async () => {
    await migrate(db.sql, { directory: workDir });
    const edited = path.join(workDir, '0001_schema.sql');
    await writeFile(edited, `${await readFile(edited, 'utf8')}\n-- a harmless-looking edit\n`);

    const run = migrate(db.sql, { directory: workDir });

    await expect(run).rejects.toBeInstanceOf(MigrationChecksumMismatchError);
    await expect(run).rejects.toThrow(/0001_schema\.sql/);
  });

  test('a new file is applied after the ones already applied', async () => {
    await migrate(db.sql, { directory: workDir });
    await writeFile(path.join(workDir, '0999_add_note.sql'), 'alter table products add column note text;');

    const result = await migrate(db.sql, { directory: workDir });

    expect(result.applied).toEqual(['0999_add_note.sql']);
  });

  test('two runners started at once: one applies, the other waits and finds nothing to do', async () => {
    const other = createSql(db.url, { max: 1 });

    const results = await Promise.all([
      migrate(db.sql, { directory: workDir }),
      migrate(other, { directory: workDir }),
    ]);
    await other.end();

    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts[0]).toBe(0);
    expect(appliedCounts[1]).toBe((await loadMigrations(workDir)).length);
  });

  test('a failing migration applies nothing of the run', async () => {
    await writeFile(path.join(workDir, '0999_broken.sql'), 'create table broken (id int); select 1/0;');

    await expect(migrate(db.sql, { directory: workDir })).rejects.toThrow(/division by zero/);

    const [row] = await db.sql<
      { exists: boolean }[]
    >`select to_regclass('public.products') is not null as exists`;
    expect(row?.exists).toBe(false);
  });

  test('sets statement and lock timeouts on the application role, not the session', async () => {
    await migrate(db.sql, { directory: workDir });

    const rows = await db.sql<{ setconfig: string[] }[]>`
      select s.setconfig
      from pg_db_role_setting s
      join pg_database d on d.oid = s.setdatabase
      where d.datname = current_database() and s.setrole = (select oid from pg_roles where rolname = ${APPLICATION_ROLE})
    `;
    const settings = rows.flatMap((row) => row.setconfig);
    expect(settings).toEqual(expect.arrayContaining(['statement_timeout=5s', 'lock_timeout=2s']));
    // A new connection of the role picks the role settings up.
    const fresh = await db.applicationSql({ max: 1 });
    const [timeout] = await fresh<{ statement_timeout: string }[]>`show statement_timeout`;
    expect(timeout?.statement_timeout).toBe('5s');
  });
});
