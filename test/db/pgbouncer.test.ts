import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createSql } from '../../src/db/client.js';
import { createTestDatabase, databaseUrl, type TestDatabase } from '../support/database.js';
import { stampedeSuite } from '../support/race-suites.js';

const bouncerUrl = inject('pgBouncerUrl');

// CI installs pgbouncer; on a machine without it these tests are reported as skipped.
describe.runIf(bouncerUrl)('through PgBouncer in transaction mode (RDS Proxy stand-in)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  test('the application pool never uses named prepared statements', () => {
    const sql = createSql(databaseUrl(bouncerUrl, db.name));
    expect(sql.options.prepare).toBe(false);
  });

  stampedeSuite('PgBouncer', () => databaseUrl(bouncerUrl, db.name));
});
