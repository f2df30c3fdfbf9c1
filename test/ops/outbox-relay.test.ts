import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { LocalEventSink, type SunkEvent } from '../../local/event-sink.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { createSql } from '../../src/db/client.js';
import { OrderStore } from '../../src/db/orders.js';
import { OutboxStore } from '../../src/db/outbox.js';
import {
  EventBridgePublisher,
  type EventPublisher,
  type OutboxEvent,
  type PublishResult,
} from '../../src/ops/event-publishers.js';
import { backoffSeconds, drainOutbox, relayOutbox } from '../../src/ops/outbox-relay.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';
import { detailOf, type FakeEventBridge, startFakeEventBridge } from './outbox-fake-eventbridge.js';

interface OutboxRow {
  id: string;
  aggregate_id: string;
  type: string;
  payload: Record<string, unknown>;
  attempts: number;
  last_error: string | null;
  published_at: Date | null;
  /** Seconds from now until the next attempt (negative when due). */
  due_in: number;
}

/** Records every batch it is handed; optionally slow, to make concurrent rounds overlap. */
class RecordingPublisher implements EventPublisher {
  readonly batches: OutboxEvent[][] = [];
  constructor(private readonly delayMs = 0) {}

  async publish(events: readonly OutboxEvent[]): Promise<PublishResult> {
    this.batches.push([...events]);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return { failedIds: [] };
  }

  get deliveredIds(): string[] {
    return this.batches.flat().map((event) => event.id);
  }
}

describe('outbox relay', () => {
  let db: TestDatabase;
  let orders: OrderStore;
  const sku = 'OUTBOX-1';

  beforeAll(async () => {
    db = await createTestDatabase();
    orders = new OrderStore(db.sql);
    await seedProducts(db.sql, { [sku]: { onHand: 100_000, priceCents: 500 } });
  });
  afterAll(async () => {
    await db.drop();
  });

  async function outboxRows(where: { aggregateId?: string } = {}): Promise<OutboxRow[]> {
    return db.sql<OutboxRow[]>`
      select
        id, aggregate_id, type, payload, attempts, last_error, published_at,
        extract(epoch from next_attempt_at - now())::float8 as due_in
      from outbox_events
      where ${where.aggregateId ? db.sql`aggregate_id = ${where.aggregateId}` : db.sql`true`}
      order by created_at, id
    `;
  }

  /** Places `count` orders; each writes one `order.placed` event. */
  async function placeOrders(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const input = orderInput({ items: [{ sku, quantity: 1 }] });
      const result = await orders.placeOrder(input);
      expect(result.outcome).toBe('PLACED');
      ids.push(input.orderId);
    }
    return ids;
  }

  /** Time passes: every backed-off or leased event becomes due. */
  async function makeEverythingDue(): Promise<void> {
    await db.sql`update outbox_events set next_attempt_at = now() where published_at is null`;
  }

  describe('events are written in the same transaction as the state change', () => {
    beforeEach(async () => {
      await db.sql`delete from outbox_events`;
    });

    test('a refused order (out of stock) writes no event', async () => {
      await seedProducts(db.sql, { 'OUTBOX-SCARCE': { onHand: 1 } });
      const input = orderInput({ items: [{ sku: 'OUTBOX-SCARCE', quantity: 2 }] });

      const result = await orders.placeOrder(input);

      expect(result.outcome).toBe('OUT_OF_STOCK');
      expect(await outboxRows()).toEqual([]);
    });

    test('a placed, then confirmed order writes exactly order.placed and order.confirmed with its snapshot', async () => {
      const input = orderInput({ items: [{ sku, quantity: 2 }] });

      await orders.placeOrder(input);
      await orders.markAuthorized(input.orderId, 'auth-1', input.correlationId);
      await orders.markCaptured(input.orderId, 'capture-1', input.correlationId);
      await orders.confirm(input.orderId, input.correlationId);
      // Applying a transition twice changes nothing, so it announces nothing either.
      await orders.confirm(input.orderId, input.correlationId);

      const rows = await outboxRows({ aggregateId: input.orderId });
      expect(rows.map((row) => row.type)).toEqual(['order.placed', 'order.confirmed']);
      expect(rows[0]?.payload).toMatchObject({ orderId: input.orderId, status: 'PENDING', totalCents: 1000 });
      expect(rows[1]?.payload).toMatchObject({ orderId: input.orderId, status: 'CONFIRMED' });
      expect(rows.every((row) => row.published_at === null && row.attempts === 0)).toBe(true);
    });

    test('placing an order with an existing order id is refused whole: no extra event, stock or debit', async () => {
      const customerId = `outbox-${randomUUID()}`;
      await seedWallet(db.sql, customerId, 10_000);
      const first = orderInput({ customerId, items: [{ sku, quantity: 1 }] });
      await orders.placeOrder(first);
      const stockBefore = await new CatalogStore(db.sql).getProduct(sku);

      expect(
        await orders.placeOrder({ ...first, storeCreditCents: 500, correlationId: randomUUID() }),
      ).toEqual({
        outcome: 'ALREADY_PLACED',
      });

      expect((await outboxRows()).map((row) => row.type)).toEqual(['order.placed']);
      expect(await new CatalogStore(db.sql).getProduct(sku)).toEqual(stockBefore);
      const [wallet] =
        await db.sql`select balance_cents from store_credit_wallets where customer_id = ${customerId}`;
      expect(wallet?.balance_cents).toBe(10_000);
    });

    test('when the outbox insert fails the state change it announces is rolled back', async () => {
      // A test-only trigger breaks the outbox for one order: the last write of place_order and of
      // confirm_order. If the event were written outside the state change's transaction, the
      // order or the confirmation would survive it.
      const input = orderInput({ items: [{ sku, quantity: 3 }] });
      const stockBefore = await new CatalogStore(db.sql).getProduct(sku);
      await breakOutboxFor(db.sql, input.orderId, 'order.placed');

      await expect(orders.placeOrder(input)).rejects.toThrow(/outbox unavailable/);

      expect(await orders.getOrder(input.orderId)).toBeUndefined();
      expect(await new CatalogStore(db.sql).getProduct(sku)).toEqual(stockBefore);
      expect(await outboxRows()).toEqual([]);

      await repairOutbox(db.sql);
      await orders.placeOrder(input);
      await orders.markAuthorized(input.orderId, 'auth-2', input.correlationId);
      await orders.markCaptured(input.orderId, 'capture-2', input.correlationId);
      await breakOutboxFor(db.sql, input.orderId, 'order.confirmed');

      await expect(orders.confirm(input.orderId, input.correlationId)).rejects.toThrow(/outbox unavailable/);

      expect(await orders.getOrder(input.orderId)).toMatchObject({ status: 'AUTHORIZED' });
      const [held] = await db.sql`select status from reservations where order_id = ${input.orderId}`;
      expect(held?.status).toBe('HELD');
      expect((await outboxRows()).map((row) => row.type)).toEqual(['order.placed']);
      await repairOutbox(db.sql);
    });
  });

  describe('relaying', () => {
    beforeEach(async () => {
      await db.sql`delete from outbox_events`;
    });

    test('publishes due events oldest first with their id, marks them published and claims nothing twice', async () => {
      const orderIds = await placeOrders(3);
      const publisher = new RecordingPublisher();

      const first = await relayOutbox({ sql: db.sql, publisher });
      const second = await relayOutbox({ sql: db.sql, publisher });

      expect(first).toEqual({ claimed: 3, published: 3, failed: 0 });
      expect(second).toEqual({ claimed: 0, published: 0, failed: 0 });
      const [batch] = publisher.batches;
      expect(batch?.map((event) => event.aggregateId)).toEqual(orderIds);
      const rows = await outboxRows();
      expect(batch?.map((event) => event.id)).toEqual(rows.map((row) => row.id));
      expect(batch?.[0]).toMatchObject({ type: 'order.placed', attempts: 0, payload: rows[0]?.payload });
      expect(rows.every((row) => row.published_at instanceof Date)).toBe(true);
    });

    test('two relays at once publish every event and mark each exactly once, never claiming one twice', async () => {
      const total = 120;
      await placeOrders(total);
      const eventIds = new Set((await outboxRows()).map((row) => row.id));
      const pools = [createSql(db.url, { max: 2 }), createSql(db.url, { max: 2 })];
      const publishers = [new RecordingPublisher(), new RecordingPublisher()];
      // A slow database: each claim holds its rows for a while, so the two relays' claims overlap
      // in (nearly) every round instead of by luck.
      await slowDownClaims(db.sql);

      const results = await Promise.all(
        pools.map((sql, i) =>
          drainOutbox({ sql, publisher: publishers[i] as RecordingPublisher, batchSize: 10 }),
        ),
      ).finally(() => restoreClaims(db.sql));
      await Promise.all(pools.map((sql) => sql.end()));

      const claims = publishers.flatMap((publisher) => publisher.deliveredIds);
      expect(claims).toHaveLength(total);
      expect(new Set(claims)).toEqual(eventIds);
      expect(publishers.every((publisher) => publisher.batches.length > 0)).toBe(true);
      expect(results.reduce((sum, result) => sum + result.published, 0)).toBe(total);
      const rows = await outboxRows();
      expect(rows.filter((row) => row.published_at !== null)).toHaveLength(total);
      expect(await relayOutbox({ sql: db.sql, publisher: new RecordingPublisher() })).toMatchObject({
        claimed: 0,
      });
    });

    test('a relay that dies after publishing has its events published again after the lease, marked once', async () => {
      await placeOrders(2);
      let release: () => void = () => {};
      let reached: () => void = () => {};
      const publishedButStuck = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const dying = new RecordingPublisher();
      const stuck: EventPublisher = {
        async publish(events) {
          await dying.publish(events);
          reached();
          // The "crash": delivered, but the relay never gets to mark it before its lease runs out.
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return { failedIds: [] };
        },
      };
      const survivor = new RecordingPublisher();

      const dyingRound = relayOutbox({ sql: db.sql, publisher: stuck, leaseSeconds: 60 });
      await publishedButStuck;
      const whileLeased = await relayOutbox({ sql: db.sql, publisher: survivor });
      await makeEverythingDue();
      const afterLease = await relayOutbox({ sql: db.sql, publisher: survivor });
      const markedAt = (await outboxRows()).map((row) => row.published_at?.toISOString());
      release();
      const lateMark = await dyingRound;

      expect(whileLeased.claimed).toBe(0);
      expect(afterLease).toEqual({ claimed: 2, published: 2, failed: 0 });
      expect(lateMark).toEqual({ claimed: 2, published: 0, failed: 0 });
      // Delivered twice with the same event ids: what consumers de-duplicate on.
      expect(survivor.deliveredIds.sort()).toEqual(dying.deliveredIds.sort());
      expect((await outboxRows()).map((row) => row.published_at?.toISOString())).toEqual(markedAt);
      expect(markedAt.every((at) => at !== undefined)).toBe(true);
    });

    test('a failing sink leaves its events unpublished and backed off, and they go out once it recovers', async () => {
      const orderIds = await placeOrders(6);
      const broken = new Set(orderIds.slice(0, 2));
      const dir = await mkdtemp(path.join(tmpdir(), 'outbox-sink-'));
      const sink = new LocalEventSink({ file: path.join(dir, 'events.jsonl') });
      sink.injectFailure((event) => broken.has(event.aggregateId), 'SinkDown: injected');

      const first = await relayOutbox({
        sql: db.sql,
        publisher: sink,
        baseBackoffSeconds: 10,
        random: () => 0.6,
      });
      const rightAway = await relayOutbox({
        sql: db.sql,
        publisher: sink,
        baseBackoffSeconds: 10,
        random: () => 0.6,
      });

      expect(first).toEqual({ claimed: 6, published: 4, failed: 2 });
      expect(rightAway.claimed).toBe(0);
      const failedRows = (await outboxRows()).filter((row) => broken.has(row.aggregate_id));
      expect(failedRows).toHaveLength(2);
      for (const row of failedRows) {
        expect(row).toMatchObject({ published_at: null, attempts: 1, last_error: 'SinkDown: injected' });
        // Full jitter: the draw (0.6) of the 10 s base delay.
        expect(row.due_in).toBeGreaterThan(5);
        expect(row.due_in).toBeLessThanOrEqual(6);
      }

      await makeEverythingDue();
      const stillDown = await relayOutbox({
        sql: db.sql,
        publisher: sink,
        baseBackoffSeconds: 10,
        random: () => 0.6,
      });
      const secondFailures = (await outboxRows()).filter((row) => broken.has(row.aggregate_id));

      expect(stillDown).toEqual({ claimed: 2, published: 0, failed: 2 });
      for (const row of secondFailures) {
        expect(row.attempts).toBe(2);
        expect(row.due_in).toBeGreaterThan(11);
        expect(row.due_in).toBeLessThanOrEqual(12);
      }

      sink.clearFailure();
      await makeEverythingDue();
      const recovered = await relayOutbox({ sql: db.sql, publisher: sink });

      expect(recovered).toEqual({ claimed: 2, published: 2, failed: 0 });
      const rows = await outboxRows();
      expect(rows).toHaveLength(6);
      expect(rows.every((row) => row.published_at !== null)).toBe(true);
      const lines = (await readFile(path.join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
      expect(new Set(lines.map((line) => (JSON.parse(line) as SunkEvent).eventId))).toEqual(
        new Set(rows.map((row) => row.id)),
      );
      await rm(dir, { recursive: true, force: true });
    });

    test('a publisher that throws fails the whole batch, which is retried and not lost', async () => {
      await placeOrders(3);
      const throwing: EventPublisher = {
        publish: () => Promise.reject(new TypeError('socket hang up')),
      };

      const failed = await relayOutbox({ sql: db.sql, publisher: throwing });

      expect(failed).toEqual({ claimed: 3, published: 0, failed: 3 });
      const rows = await outboxRows();
      expect(rows.map((row) => [row.attempts, row.last_error])).toEqual(
        Array.from({ length: 3 }, () => [1, 'TypeError: socket hang up']),
      );
      expect(rows.every((row) => row.due_in > 0)).toBe(true);

      await makeEverythingDue();
      expect(await relayOutbox({ sql: db.sql, publisher: new RecordingPublisher() })).toEqual({
        claimed: 3,
        published: 3,
        failed: 0,
      });
    });

    test('draining stops at a short round, or when told to stop', async () => {
      await placeOrders(25);

      const cutShort = await drainOutbox({
        sql: db.sql,
        publisher: new RecordingPublisher(),
        batchSize: 10,
        shouldContinue: () => false,
      });
      const rest = await drainOutbox({ sql: db.sql, publisher: new RecordingPublisher(), batchSize: 10 });

      expect(cutShort).toEqual({ rounds: 1, claimed: 10, published: 10, failed: 0 });
      expect(rest).toEqual({ rounds: 2, claimed: 15, published: 15, failed: 0 });
      expect(await new OutboxStore(db.sql).backlog()).toEqual({ unpublished: 0, oldestAgeSeconds: 0 });
    });

    test('the backlog reports unpublished events and the age of the oldest', async () => {
      await placeOrders(2);
      await db.sql`update outbox_events set created_at = now() - interval '90 seconds'`;

      const backlog = await new OutboxStore(db.sql).backlog();

      expect(backlog.unpublished).toBe(2);
      expect(backlog.oldestAgeSeconds).toBeGreaterThanOrEqual(90);
      expect(backlog.oldestAgeSeconds).toBeLessThan(120);
    });
  });

  describe('to EventBridge', () => {
    let fake: FakeEventBridge | undefined;

    beforeEach(async () => {
      await db.sql`delete from outbox_events`;
    });
    afterEach(async () => {
      await fake?.stop();
      fake = undefined;
    });

    function publisherFor(bridge: FakeEventBridge): EventBridgePublisher {
      // One attempt: the SDK's own retries would hide what a failed call does to its chunk.
      const client = new EventBridgeClient({
        endpoint: bridge.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      return new EventBridgePublisher({ client, eventBusName: 'checkout-events' });
    }

    test('sends events in PutEvents calls of at most 10, each with the envelope in Detail', async () => {
      fake = await startFakeEventBridge();
      await placeOrders(23);
      const rows = await outboxRows();

      const result = await relayOutbox({ sql: db.sql, publisher: publisherFor(fake) });

      expect(result).toEqual({ claimed: 23, published: 23, failed: 0 });
      expect(fake.requests.map((entries) => entries.length).sort((a, b) => a - b)).toEqual([3, 10, 10]);
      const first = fake.accepted.find((entry) => detailOf(entry).eventId === rows[0]?.id);
      expect(first).toMatchObject({
        Source: 'checkout',
        DetailType: 'order.placed',
        EventBusName: 'checkout-events',
      });
      expect(detailOf(first ?? {})).toEqual({
        eventId: rows[0]?.id,
        type: 'order.placed',
        occurredAt: expect.any(String),
        correlationId: expect.any(String),
        data: rows[0]?.payload,
      });
      expect(new Set(fake.accepted.map((entry) => detailOf(entry).eventId))).toEqual(
        new Set(rows.map((row) => row.id)),
      );
    });

    test('maps per-entry failures to exactly those events, which stay in the outbox', async () => {
      await placeOrders(15);
      const rows = await outboxRows();
      // One rejected entry in each chunk of 10, at different positions.
      const rejected = new Set([rows[3]?.id, rows[12]?.id]);
      fake = await startFakeEventBridge({
        rejectEntry: (entry) =>
          rejected.has(detailOf(entry).eventId)
            ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
            : undefined,
      });

      const published = await publisherFor(fake).publish(await claimAll(db.sql));

      expect(new Set(published.failedIds)).toEqual(rejected);
      expect(Object.values(published.errors ?? {})).toEqual([
        'ThrottlingException: Rate exceeded',
        'ThrottlingException: Rate exceeded',
      ]);
      expect(fake.accepted).toHaveLength(13);
    });

    test('a PutEvents call that errors fails its whole chunk and only that chunk', async () => {
      await placeOrders(15);
      const rows = await outboxRows();
      const poison = rows[11]?.id;
      fake = await startFakeEventBridge({
        failRequest: (entries) => entries.some((entry) => detailOf(entry).eventId === poison),
      });

      const result = await relayOutbox({ sql: db.sql, publisher: publisherFor(fake) });

      expect(result).toEqual({ claimed: 15, published: 10, failed: 5 });
      const failedRows = (await outboxRows()).filter((row) => row.published_at === null);
      expect(failedRows.map((row) => row.id)).toEqual(rows.slice(10).map((row) => row.id));
      expect(failedRows[0]?.last_error).toMatch(/InternalException/);
    });
  });

  describe('local event sink', () => {
    test('appends one parsable JSON line per event with its eventId and keeps the latest in memory', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'outbox-sink-'));
      const file = path.join(dir, 'nested', 'events.jsonl');
      const sink = new LocalEventSink({ file, capacity: 3 });
      const events = Array.from({ length: 5 }, (_, i) => outboxEvent(`order.test.${i}`));

      await sink.publish(events.slice(0, 2));
      const result = await sink.publish(events.slice(2));

      expect(result.failedIds).toEqual([]);
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      const parsed = lines.map((line) => JSON.parse(line) as SunkEvent);
      expect(parsed.map((event) => event.eventId)).toEqual(events.map((event) => event.id));
      expect(parsed[0]).toEqual({
        eventId: events[0]?.id,
        type: 'order.test.0',
        occurredAt: events[0]?.createdAt,
        correlationId: 'corr-1',
        data: { orderId: events[0]?.aggregateId, status: 'PENDING' },
        source: 'checkout',
        publishedAt: expect.any(String),
      });
      expect(sink.recent().map((event) => event.type)).toEqual([
        'order.test.2',
        'order.test.3',
        'order.test.4',
      ]);
      expect(sink.recent(1).map((event) => event.type)).toEqual(['order.test.4']);
      await rm(dir, { recursive: true, force: true });
    });

    test('an injected failure refuses the matching events and writes none of them', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'outbox-sink-'));
      const file = path.join(dir, 'events.jsonl');
      const sink = new LocalEventSink({ file });
      const events = [outboxEvent('order.placed'), outboxEvent('order.cancelled')];
      sink.injectFailure((event) => event.type === 'order.cancelled');

      const result = await sink.publish(events);

      expect(result.failedIds).toEqual([events[1]?.id]);
      expect(result.errors?.[events[1]?.id ?? '']).toMatch(/injected/);
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as SunkEvent).eventId)).toEqual([events[0]?.id]);
      await rm(dir, { recursive: true, force: true });
    });
  });
});

describe('backoff', () => {
  const policy = (random: number) => ({ baseSeconds: 5, maxSeconds: 900, random: () => random });

  test('doubles with every failure and never exceeds the cap', () => {
    const ceilings = [1, 2, 3, 4, 8, 9, 20, 5000].map((attempt) => backoffSeconds(attempt, policy(0.999999)));

    expect(ceilings.map(Math.round)).toEqual([5, 10, 20, 40, 640, 900, 900, 900]);
  });

  test('full jitter: the delay is drawn from the whole window, zero to the ceiling', () => {
    expect(backoffSeconds(1, policy(0))).toBe(0);
    expect(backoffSeconds(3, policy(0.5))).toBe(10);
    expect(backoffSeconds(50, policy(0.25))).toBe(225);
  });
});

/** Claims every due event (as a relay round would) to call a publisher directly. */
async function claimAll(sql: Sql): Promise<OutboxEvent[]> {
  return new OutboxStore(sql).claim(1000, 60);
}

function outboxEvent(type: string): OutboxEvent {
  const aggregateId = randomUUID();
  return {
    id: randomUUID(),
    aggregateId,
    type,
    payload: { orderId: aggregateId, status: 'PENDING' },
    correlationId: 'corr-1',
    createdAt: new Date().toISOString(),
    attempts: 0,
  };
}

/** Makes the outbox insert for one order and event type fail, as a broken disk or constraint would. */
async function breakOutboxFor(sql: Sql, orderId: string, type: string): Promise<void> {
  await sql.unsafe(`
    create or replace function test_break_outbox() returns trigger
    language plpgsql
    as $$
    begin
      if new.aggregate_id = '${orderId}'::uuid and new.type = '${type}' then
        raise exception 'outbox unavailable';
      end if;
      return new;
    end
    $$
  `);
  await sql.unsafe(`
    create or replace trigger test_break_outbox
      before insert on outbox_events
      for each row execute function test_break_outbox()
  `);
}

async function repairOutbox(sql: Sql): Promise<void> {
  await sql.unsafe('drop trigger if exists test_break_outbox on outbox_events');
}

/** Makes every claim (an update that only moves next_attempt_at) take 3 ms per row. */
async function slowDownClaims(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create or replace function test_slow_claim() returns trigger
    language plpgsql
    as $$
    begin
      perform pg_sleep(0.003);
      return new;
    end
    $$
  `);
  await sql.unsafe(`
    create or replace trigger test_slow_claim
      before update on outbox_events
      for each row
      when (new.published_at is null and new.attempts = old.attempts)
      execute function test_slow_claim()
  `);
}

async function restoreClaims(sql: Sql): Promise<void> {
  await sql.unsafe('drop trigger if exists test_slow_claim on outbox_events');
}
