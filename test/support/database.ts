import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from 'postgres';
import { inject } from 'vitest';
import { createSql, type SqlClientOptions } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrations.js';
import { APPLICATION_ROLE, setRolePassword, urlForRole } from '../../src/db/roles.js';
import { GUARD_MUTANT_VARIABLE } from '../../tools/mutate-sql/guards.js';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');

/**
 * The application role's password on the test server. One fixed value: the role belongs to the
 * whole server, and test files setting different passwords in parallel would lock each other out.
 */
export const APPLICATION_ROLE_TEST_PASSWORD = 'checkout-app-test-password';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the new database, built like the application builds its own. */
  readonly sql: Sql;
  /**
   * A pool on the database as the application role (migration 0008), the role the functions
   * connect as; its password is set on first use. Closed by `drop()`.
   */
  applicationSql(options?: SqlClientOptions): Promise<Sql>;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

/**
 * Creates a database of its own for one test file, so files can run in parallel, and migrates it
 * with the project's migration runner unless told not to.
 */
export async function createTestDatabase(
  options: { migrate?: boolean; pool?: SqlClientOptions; serverUrl?: string } = {},
): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();

  const url = databaseUrl(options.serverUrl ?? adminUrl, name);
  const sql = createSql(url, { max: 10, ...options.pool });
  if (options.migrate ?? true) {
    await migrate(sql, { directory: MIGRATIONS_DIR });
    await applyGuardMutant(sql);
  }
  const applicationPools: Sql[] = [];
  return {
    name,
    url,
    sql,
    async applicationSql(poolOptions = {}) {
      await setRolePassword(sql, APPLICATION_ROLE, APPLICATION_ROLE_TEST_PASSWORD);
      const pool = createSql(urlForRole(url, APPLICATION_ROLE, APPLICATION_ROLE_TEST_PASSWORD), {
        max: 4,
        ...poolOptions,
      });
      applicationPools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(applicationPools.map((pool) => pool.end({ timeout: 5 })));
      await sql.end({ timeout: 5 });
      const cleanup = createSql(adminUrl, { max: 1 });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/**
 * `npm run mutate:sql` (tools/mutate-sql/run.ts) runs the database tests once per order-function
 * guard, with that guard removed: it names a file holding the function re-created without it, and
 * every migrated test database gets that copy right after the migrations.
 */
async function applyGuardMutant(sql: Sql): Promise<void> {
  const file = process.env[GUARD_MUTANT_VARIABLE];
  if (!file) return;
  await sql.unsafe(await readFile(file, 'utf8'));
}

/** The same server and credentials, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
