import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalPostgres } from '../../local/postgres.js';
import { findFreePort } from '../../local/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the PostgreSQL server the tests create their databases on. */
    adminDatabaseUrl: string;
  }
}

/**
 * Starts one PostgreSQL 16 server for the whole run unless DATABASE_URL points at one already.
 * Test files create their own databases on it (see `test/support/database.ts`), so they stay
 * isolated while running in parallel.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide('adminDatabaseUrl', external);
    return async () => {};
  }

  const dataDir = await mkdtemp(path.join(tmpdir(), 'checkout-test-pg-'));
  // mkdtemp makes the folder private to us; as root, the server runs as `postgres` and must reach it.
  await chmod(dataDir, 0o755);
  const postgres = await startLocalPostgres({
    dataDir: path.join(dataDir, 'data'),
    port: await findFreePort(),
    ephemeral: true,
  });
  project.provide('adminDatabaseUrl', postgres.adminUrl);

  return async () => {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
