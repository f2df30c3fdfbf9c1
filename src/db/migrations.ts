import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from 'postgres';

/** One forward-only migration file, `NNNN_name.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationResult {
  /** Files applied by this run, in order. Empty when the database was already up to date. */
  readonly applied: string[];
  /** Files that were already applied before this run. */
  readonly alreadyApplied: number;
}

export interface MigrateOptions {
  /** Folder of `NNNN_name.sql` files. */
  readonly directory: string;
  /**
   * How long a runner waits for another runner holding the migration lock.
   * @default 300_000
   */
  readonly lockWaitMs?: number;
  readonly log?: (message: string) => void;
}

/** An applied migration file was changed after it ran; forward-only means it must never change. */
export class MigrationChecksumMismatchError extends Error {
  override readonly name = 'MigrationChecksumMismatchError';
  constructor(readonly file: string) {
    super(`migration ${file} was edited after it was applied; add a new migration instead`);
  }
}

/** The database has a migration this checkout does not know: it is older than the database. */
export class UnknownAppliedMigrationError extends Error {
  override readonly name = 'UnknownAppliedMigrationError';
  constructor(readonly file: string) {
    super(`migration ${file} is applied in the database but missing from the migrations folder`);
  }
}

export class InvalidMigrationFileError extends Error {
  override readonly name = 'InvalidMigrationFileError';
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

// Any constant works; it only has to be the same for every runner of this schema.
const MIGRATION_LOCK_KEY = 727_100_001;

/** Reads and checksums the migration files of a folder, in version order. */
export async function loadMigrations(directory: string): Promise<Migration[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      throw new InvalidMigrationFileError(`migration file ${file} does not match NNNN_name.sql`);
    }
    const sql = await readFile(path.join(directory, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new InvalidMigrationFileError(`two migration files share version ${match[1]}`);
    }
    migrations.push({ version, name: match[2] as string, file, sql, checksum: sha256(sql) });
  }
  return migrations;
}

/**
 * Applies every pending migration, in order, in one transaction.
 *
 * A transaction-scoped advisory lock serialises concurrent runners (two deploys, or a deploy and a
 * local start): the second waits, then finds nothing left to do. Transaction-scoped rather than
 * session-scoped because session state would pin an RDS Proxy connection. Applied files are
 * checksummed and the run is refused if one of them changed since.
 */
export async function migrate(sql: Sql, options: MigrateOptions): Promise<MigrationResult> {
  const migrations = await loadMigrations(options.directory);
  const log = options.log ?? (() => {});
  const lockWaitMs = options.lockWaitMs ?? 300_000;

  return sql.begin(async (tx) => {
    // Migrations may legitimately run longer than the application's role-level timeouts.
    await tx`select set_config('statement_timeout', '0', true), set_config('lock_timeout', ${`${lockWaitMs}ms`}, true)`;
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )
    `;

    const applied = await tx<{ version: number; name: string; checksum: string }[]>`
      select version, name, checksum
      from schema_migrations
      order by version
    `;
    const known = new Map(migrations.map((m) => [m.version, m]));
    for (const row of applied) {
      const migration = known.get(row.version);
      const file = `${String(row.version).padStart(4, '0')}_${row.name}.sql`;
      if (!migration) throw new UnknownAppliedMigrationError(file);
      if (migration.checksum !== row.checksum) throw new MigrationChecksumMismatchError(migration.file);
    }

    const appliedVersions = new Set(applied.map((row) => row.version));
    const pending = migrations.filter((m) => !appliedVersions.has(m.version));
    for (const migration of pending) {
      log(`applying ${migration.file}`);
      await tx.unsafe(migration.sql);
      await tx`
        insert into schema_migrations (version, name, checksum)
        values (${migration.version}, ${migration.name}, ${migration.checksum})
      `;
    }
    return { applied: pending.map((m) => m.file), alreadyApplied: applied.length };
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
