import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts } from '../support/fixtures.js';
import { quietMetrics, unreachableSql } from './support/environment.js';
import { apiEvent, invoke } from './support/events.js';
import { RecordingCheckoutMetrics, RecordingSagaStartBuffer, RecordingSagaStarter } from './support/fakes.js';

/**
 * The vitest config silences Powertools (POWERTOOLS_LOG_LEVEL=CRITICAL), and the logger re-applies
 * its initial level on every warm invocation, so this file loads the handler modules afresh with
 * INFO logging, as a Lambda configured with POWERTOOLS_LOG_LEVEL=INFO would.
 */
const TABLE = 'logging-idempotency';

describe('logging', () => {
  let db: TestDatabase;
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
    await seedProducts(db.sql, { 'LOG-1': { onHand: 10 } });
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    client?.destroy();
    await dynamo?.close();
    await db?.drop();
  });

  test('every log line of a request carries its correlation id, on success, refusal and failure', async () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    vi.resetModules();
    const { createCheckoutHandler } = await import('../../lambdas/api/checkout.js');
    const { createCheckoutIdempotency } = await import('../../src/api/idempotency.js');
    const { OrderStore } = await import('../../src/db/orders.js');
    const down = await unreachableSql();
    const handlerOver = (orders: InstanceType<typeof OrderStore>) =>
      createCheckoutHandler(
        {
          orders,
          sagaStarter: new RecordingSagaStarter(),
          sagaStartBuffer: new RecordingSagaStartBuffer(),
          idempotency: createCheckoutIdempotency({ client, tableName: TABLE }),
        },
        { metrics: quietMetrics(), checkoutMetrics: new RecordingCheckoutMetrics() },
      );
    const healthy = handlerOver(new OrderStore(db.sql));
    const broken = handlerOver(new OrderStore(down));
    const request = (correlationId: string, body: unknown) =>
      apiEvent({
        method: 'POST',
        resource: '/v1/checkout',
        customerId: 'log-customer',
        headers: { 'Idempotency-Key': randomUUID(), 'X-Correlation-Id': correlationId },
        body,
      });
    const cart = { items: [{ sku: 'LOG-1', quantity: 1 }], currency: 'USD', paymentMethod: 'pm_card_visa' };

    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      await invoke(healthy, request('corr-accepted', cart));
      await invoke(healthy, request('corr-refused', '{"items":'));
      await invoke(broken, request('corr-failed', cart));
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      await down.end({ timeout: 1 });
    }

    const entries = lines
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.startsWith('{"level"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byRequest = (id: string) => entries.filter((entry) => entry.correlationId === id);
    expect(entries.length).toBeGreaterThanOrEqual(5);
    expect(entries.filter((entry) => typeof entry.correlationId !== 'string')).toEqual([]);
    expect(byRequest('corr-accepted').map((entry) => entry.message)).toContain('request completed');
    expect(byRequest('corr-refused').map((entry) => entry.message)).toEqual([
      'request refused',
      'request completed',
    ]);
    const failed = byRequest('corr-failed');
    expect(failed.map((entry) => entry.level)).toContain('ERROR');
    // The log has the error in full; the client never does.
    expect(JSON.stringify(failed)).toContain('ECONNREFUSED');
  });
});
