import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Sql } from 'postgres';
import { inject } from 'vitest';
import { createSql, type SqlClientOptions } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrations.js';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the new database, built like the application builds its own. */
  readonly sql: Sql;
  /** Closes the pool and drops the database. */
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
  }
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const cleanup = createSql(adminUrl, { max: 1 });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** The same server and credentials, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
