import type { Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { OrderStore } from '../../src/db/orders.js';
import type { DrainResult } from '../../src/ops/outbox-relay.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts } from '../support/fixtures.js';
import { detailOf, type FakeEventBridge, startFakeEventBridge } from './outbox-fake-eventbridge.js';

type Handler = (event: ScheduledEvent, context: Context) => Promise<DrainResult>;

/**
 * The scheduled Lambda as AWS runs it: configuration from the environment, the real EventBridge
 * client (pointed at the fake bus through the SDK's AWS_ENDPOINT_URL_EVENTBRIDGE), the pool from
 * DATABASE_URL, middy with the Powertools logger and metrics.
 */
describe('outbox relay Lambda', () => {
  let db: TestDatabase;
  let bus: FakeEventBridge;
  let handler: Handler;
  const savedEnv = { ...process.env };
  const stdout: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    bus = await startFakeEventBridge();
    await seedProducts(db.sql, { 'RELAY-1': { onHand: 1000 } });
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      EVENT_BUS_NAME: 'checkout-events',
      OUTBOX_BATCH_SIZE: '10',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      // On for this file only, to read the EMF lines the handler emits.
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    // Configuration is read on the first invocation, as at a cold start.
    handler = (await import('../../lambdas/workers/outbox-relay.js')).handler as unknown as Handler;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    process.env = savedEnv;
    await (await import('../../src/roots/database.js')).endContainerPool();
    await bus?.stop();
    await db?.drop();
  });
  beforeEach(async () => {
    stdout.length = 0;
    await db.sql`delete from outbox_events`;
  });

  async function placeOrders(count: number): Promise<void> {
    const orders = new OrderStore(db.sql);
    for (let i = 0; i < count; i += 1) {
      await orders.placeOrder(orderInput({ items: [{ sku: 'RELAY-1', quantity: 1 }] }));
    }
  }

  function emittedMetrics(): Record<string, unknown> {
    const emf = stdout
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    return Object.assign({}, ...emf);
  }

  test('drains the outbox to the bus in rounds and reports published, failed and the backlog', async () => {
    await placeOrders(25);

    const result = await handler({} as ScheduledEvent, createLambdaContext({ functionName: 'outbox-relay' }));

    expect(result).toEqual({ rounds: 3, claimed: 25, published: 25, failed: 0 });
    const [unpublished] =
      await db.sql`select count(*)::int as count from outbox_events where published_at is null`;
    expect(unpublished?.count).toBe(0);
    expect(bus.accepted.filter((entry) => entry.EventBusName === 'checkout-events')).toHaveLength(25);
    expect(bus.accepted.every((entry) => detailOf(entry).type === 'order.placed')).toBe(true);
    expect(emittedMetrics()).toMatchObject({
      OutboxEventsPublished: 25,
      OutboxEventsFailed: 0,
      OutboxBacklog: 0,
      OutboxOldestEventAge: 0,
    });
  });

  test('starts no new round when the invocation is about to time out', async () => {
    await placeOrders(25);
    const almostOutOfTime = createLambdaContext({ functionName: 'outbox-relay', timeoutMs: 5_000 });

    const result = await handler({} as ScheduledEvent, almostOutOfTime);

    expect(result).toEqual({ rounds: 1, claimed: 10, published: 10, failed: 0 });
    expect(emittedMetrics()).toMatchObject({ OutboxEventsPublished: 10, OutboxBacklog: 15 });
  });
});
