import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { findPgBouncer, type LocalPgBouncer, startPgBouncer } from '../../local/pgbouncer.js';
import { findFreePort } from '../../local/ports.js';
import { startLocalPostgres } from '../../local/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the PostgreSQL server the tests create their databases on. */
    adminDatabaseUrl: string;
    /** The same server behind PgBouncer in transaction mode; empty when pgbouncer is not installed. */
    pgBouncerUrl: string;
  }
}

/**
 * Starts one PostgreSQL 16 server for the whole run unless DATABASE_URL points at one already.
 * Test files create their own databases on it (see `test/support/database.ts`), so they stay
 * isolated while running in parallel. The global setup of the mutation runs (vitest.mutation.config.ts),
 * which need the database and none of the local bundles.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'checkout-test-pg-'));
  // mkdtemp makes the folder private to us; as root, the servers run as `postgres` and must reach it.
  await chmod(workDir, 0o755);

  const external = process.env.DATABASE_URL;
  const postgres = external
    ? undefined
    : await startLocalPostgres({
        dataDir: path.join(workDir, 'data'),
        port: await findFreePort(),
        ephemeral: true,
      });
  const adminUrl = external ?? (postgres?.adminUrl as string);
  project.provide('adminDatabaseUrl', adminUrl);

  let bouncer: LocalPgBouncer | undefined;
  if (findPgBouncer()) {
    bouncer = await startPgBouncer({
      serverUrl: adminUrl,
      port: await findFreePort(),
      workDir: path.join(workDir, 'pgbouncer'),
    });
  }
  project.provide('pgBouncerUrl', bouncer?.url ?? '');

  return async () => {
    await bouncer?.stop();
    await postgres?.stop();
    await rm(workDir, { recursive: true, force: true });
  };
}
