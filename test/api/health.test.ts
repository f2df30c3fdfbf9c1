import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLiveHandler, createReadyHandler } from '../../lambdas/api/health.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import type { ReadinessDependencies } from '../../src/api/health.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import { createSql, databaseProbe } from '../../src/db/client.js';
import { PaymentProviderTransientError } from '../../src/payments/errors.js';
import { createHttpPaymentGateway } from '../../src/payments/http-gateway.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createRouteCoverage } from './support/coverage.js';
import { startBlackHole, unreachableSql } from './support/environment.js';
import { apiEvent, invoke } from './support/events.js';

const TABLE = 'health-idempotency';
const coverage = createRouteCoverage(['getLiveness', 'getReadiness']);

describe('health', () => {
  let db: TestDatabase;
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;

  function ready(dependencies: Partial<ReadinessDependencies> = {}) {
    const handler: ApiGatewayHandler = createReadyHandler({
      database: databaseProbe(db.sql),
      dynamoDb: client,
      idempotencyTableName: TABLE,
      ...dependencies,
    });
    return invoke(handler, apiEvent({ method: 'GET', resource: '/health/ready' })).then((result) =>
      coverage.record('getReadiness', result),
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
    await db?.drop();
  });

  test('live answers 200 without touching any dependency', async () => {
    const result = await invoke(createLiveHandler(), apiEvent({ method: 'GET', resource: '/health/live' }));
    coverage.record('getLiveness', result);
    expect(result.statusCode).toBe(200);
    expect(result.json).toEqual({ status: 'ok' });
    expect(result.headers['X-Correlation-Id']).toEqual(expect.any(String));
  });

  test('ready reports every dependency with its status and latency, and 200 when all are up', async () => {
    const gateway = createHttpPaymentGateway({ baseUrl: 'http://127.0.0.1:1' });

    const result = await ready({ paymentBreaker: () => gateway.breakerState() });

    expect(result.statusCode).toBe(200);
    expect(result.json).toEqual({
      status: 'ready',
      checks: {
        database: { status: 'up', latencyMs: expect.any(Number) },
        idempotencyTable: { status: 'up', latencyMs: expect.any(Number) },
        paymentProvider: { status: 'up', latencyMs: expect.any(Number), breaker: 'closed' },
      },
    });
  });

  test('ready is 503 when the database is down, and says which dependency failed', async () => {
    const down = await unreachableSql();
    try {
      const result = await ready({ database: databaseProbe(down) });

      expect(result.statusCode).toBe(503);
      expect(result.headers['Content-Type']).toBe('application/json');
      expect(result.json).toMatchObject({
        status: 'not_ready',
        checks: {
          database: { status: 'down', error: 'unavailable', latencyMs: expect.any(Number) },
          idempotencyTable: { status: 'up' },
        },
      });
      expect(result.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    } finally {
      await down.end({ timeout: 1 });
    }
  });

  test('ready is 503 when the idempotency table does not exist', async () => {
    const result = await ready({ idempotencyTableName: 'no-such-table' });
    expect(result.statusCode).toBe(503);
    expect(result.json).toMatchObject({
      status: 'not_ready',
      checks: { database: { status: 'up' }, idempotencyTable: { status: 'down', error: 'unavailable' } },
    });
  });

  test('ready answers from its last report for a few seconds: a flood of probes costs one check', async () => {
    const table = 'health-cached';
    await createIdempotencyTable(client, table);
    const handler = createReadyHandler({
      database: databaseProbe(db.sql),
      dynamoDb: client,
      idempotencyTableName: table,
    });
    const probe = () => invoke(handler, apiEvent({ method: 'GET', resource: '/health/ready' }));
    expect((await probe()).statusCode).toBe(200);
    await client.send(new DeleteTableCommand({ TableName: table }));

    const cached = await probe();
    const uncached = await ready({ idempotencyTableName: table, cacheMs: 0 });

    expect(cached.statusCode).toBe(200);
    expect(uncached.statusCode).toBe(503);
  });

  test('a database that never answers is reported as a timeout within the time limit', async () => {
    const hole = await startBlackHole();
    const hung = createSql(hole.url, { max: 1, connectTimeoutSeconds: 30 });
    try {
      const started = Date.now();
      const result = await ready({ database: databaseProbe(hung), timeoutMs: 300 });

      expect(Date.now() - started).toBeLessThan(5000);
      expect(result.statusCode).toBe(503);
      expect(result.json).toMatchObject({
        checks: { database: { status: 'down', error: 'timeout' } },
      });
      const database = (result.json.checks as { database: { latencyMs: number } }).database;
      // The 300 ms timer counts from libuv's cached loop clock in whole milliseconds; the latency
      // is taken from the precise clock, so it can read a millisecond short.
      expect(database.latencyMs).toBeGreaterThanOrEqual(299);
    } finally {
      await hole.close();
      await hung.end({ timeout: 0 }).catch(() => {});
    }
  });

  test('an open payment breaker degrades readiness but keeps it 200: orders are still taken', async () => {
    const gateway = createHttpPaymentGateway({
      baseUrl: 'http://127.0.0.1:1',
      breaker: { failureThreshold: 1 },
    });
    await expect(
      gateway.authorize({
        orderId: '00000000-0000-4000-8000-000000000001',
        amountCents: 100,
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        idempotencyKey: 'health:authorize',
      }),
    ).rejects.toBeInstanceOf(PaymentProviderTransientError);

    const result = await ready({ paymentBreaker: () => gateway.breakerState() });

    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({
      status: 'degraded',
      checks: { paymentProvider: { status: 'degraded', breaker: 'open' } },
    });
  });

  test('without a payment provider configured, its state is unknown', async () => {
    const result = await ready();
    expect(result.statusCode).toBe(200);
    expect(result.json).toMatchObject({
      status: 'ready',
      checks: { paymentProvider: { status: 'unknown' } },
    });
  });

  test('every status of the health routes is produced by a test above', () => {
    expect(coverage.gaps()).toEqual({ missing: [], undeclared: [] });
  });
});
