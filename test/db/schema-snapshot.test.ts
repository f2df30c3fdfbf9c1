import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dumpSchema, SCHEMA_SNAPSHOT, SCHEMA_SNAPSHOT_FILE } from '../../bin/schema-snapshot.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('the readable schema', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  test(`${SCHEMA_SNAPSHOT} is what the migrations produce on a fresh database`, async () => {
    const committed = readFileSync(SCHEMA_SNAPSHOT_FILE, 'utf8');

    const migrated = await dumpSchema(db.sql);

    expect(migrated, `${SCHEMA_SNAPSHOT} is stale: run \`npm run schema\` and commit it`).toBe(committed);
  });

  test('the snapshot shows the live definition of each function and the constraints of each table', async () => {
    const migrated = await dumpSchema(db.sql);

    // 0006 replaced place_order: the snapshot carries the replacement only, once.
    expect(migrated.match(/FUNCTION public\.place_order\(/g)).toHaveLength(1);
    expect(migrated).toContain('constraint inventory_reserved_within_on_hand CHECK (reserved <= on_hand)');
    expect(migrated).toMatch(/CREATE INDEX orders_customer_status_created_idx ON public\.orders/);
  });
});
