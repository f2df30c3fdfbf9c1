import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  injectRecordFailuresAtRate,
  installRecordFailures,
  removeRecordFailures,
} from '../../local/faults/record-failures.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';

/**
 * The local stack's `LOCAL_FAULT_RECORD_FAILURE_RATE`, injected from outside the product: the
 * provider tells the injector of a side effect, and the product's next write of its record fails
 * as a lost connection would (retryable), once; the application role's write is the one refused.
 */
describe('record failures injected at the database (local/faults/record-failures.ts)', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  let folder: string;
  let counter = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(await db.applicationSql());
    folder = await mkdtemp(path.join(tmpdir(), 'checkout-record-failures-'));
    await installRecordFailures(db.sql);
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
    await db?.drop();
  });

  async function pendingOrder(): Promise<string> {
    counter += 1;
    const customerId = `record-failures-${counter}`;
    await seedProducts(db.sql, { [`RF-${counter}`]: { onHand: 5, priceCents: 1000 } });
    await seedWallet(db.sql, customerId, 0);
    const input = orderInput({
      customerId,
      storeCreditCents: 0,
      items: [{ sku: `RF-${counter}`, quantity: 1 }],
    });
    const placed = await orders.placeOrder(input);
    if (placed.outcome !== 'PLACED') throw new Error(`fixture order not placed: ${placed.outcome}`);
    return input.orderId;
  }

  test('a side effect drawn by the rate fails its record once, retryably, and is logged; the retry records it', async () => {
    const orderId = await pendingOrder();
    const file = path.join(folder, 'drawn.jsonl');
    const inject = injectRecordFailuresAtRate({ sql: db.sql, rate: 0.5, file, random: () => 0.2 });

    await inject('authorize', orderId);

    await expect(orders.markAuthorized(orderId, 'auth_1', 'corr')).rejects.toBeInstanceOf(
      DatabaseUnavailableError,
    );
    expect(await orders.markAuthorized(orderId, 'auth_1', 'corr')).toMatchObject({
      changed: true,
      status: 'AUTHORIZED',
    });
    expect(await orders.getOrder(orderId)).toMatchObject({ status: 'AUTHORIZED' });
    const logged = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(logged).toEqual([expect.objectContaining({ effect: 'authorize', orderId })]);
  });

  test('a side effect the rate does not draw is neither failed nor logged', async () => {
    const orderId = await pendingOrder();
    const file = path.join(folder, 'not-drawn.jsonl');
    const inject = injectRecordFailuresAtRate({ sql: db.sql, rate: 0.5, file, random: () => 0.7 });

    await inject('authorize', orderId);

    expect(await orders.markAuthorized(orderId, 'auth_2', 'corr')).toMatchObject({
      changed: true,
      status: 'AUTHORIZED',
    });
    await expect(readFile(file, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('once removed, nothing is injected and the schema is gone', async () => {
    await removeRecordFailures(db.sql);

    const [schema] =
      await db.sql`select count(*)::int as n from pg_namespace where nspname = 'injected_faults'`;
    const [trigger] =
      await db.sql`select count(*)::int as n from pg_trigger where tgname = 'injected_record_failures'`;
    expect({ schema: schema?.n, trigger: trigger?.n }).toEqual({ schema: 0, trigger: 0 });
  });
});
