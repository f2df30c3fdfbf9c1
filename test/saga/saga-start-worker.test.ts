import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLambdaContext } from '../../local/aws/lambda-context.js';
import { SAGA_STARTER_STOP_MARGIN_SECONDS } from '../../src/config/budget.js';
import { DatabaseUnavailableError } from '../../src/db/errors.js';
import { OrderStore } from '../../src/db/orders.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import type { MessageVisibility } from '../../src/saga/saga-start-queue.js';
import { createSagaStartWorker } from '../../src/saga/saga-start-worker.js';
import { type SagaInput, SagaStartError, type SagaStarter } from '../../src/saga/saga-starter.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { placeSagaOrder } from '../support/saga-environment.js';

/** A saga-start port that fails the first `failures` starts of each order, then starts it once. */
class ScriptedStarter implements SagaStarter {
  readonly attempts: { orderId: string; at: number }[] = [];
  private readonly started = new Set<string>();
  constructor(
    private readonly failures = 0,
    private readonly onStart: (input: SagaInput) => Promise<void> = async () => {},
  ) {}

  async start(input: SagaInput): Promise<{ alreadyStarted: boolean }> {
    this.attempts.push({ orderId: input.orderId, at: Date.now() });
    await this.onStart(input);
    if (this.attempts.filter((a) => a.orderId === input.orderId).length <= this.failures) {
      throw new SagaStartError('throttled', {
        cause: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
      });
    }
    const alreadyStarted = this.started.has(input.orderId);
    this.started.add(input.orderId);
    return { alreadyStarted };
  }

  startedOrders(): string[] {
    return [...this.started];
  }
}

/** The queue's visibility changes, as SQS would receive them; `failing` makes each one fail. */
class RecordingVisibility implements MessageVisibility {
  readonly changes: { receiptHandle: string; seconds: number }[] = [];
  constructor(private readonly failing = false) {}
  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    if (this.failing) throw new Error('SQS unreachable');
    this.changes.push({ receiptHandle, seconds });
  }
}

function record(body: unknown): SQSRecord {
  const messageId = randomUUID();
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1' },
  } as unknown as SQSRecord;
}

const eventOf = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/**
 * The saga starter on its own (docs/adr/0019): its lease on the order, its retries within the
 * invocation, its pace, and what it hands back to the queue. PostgreSQL for the leases; the
 * Step Functions and SQS ports recorded, since what matters here is which calls the worker makes
 * and when (the saga-start buffer's end-to-end test runs it against the stand-ins).
 */
describe('the saga starter', () => {
  let db: TestDatabase;
  let claims: RecoveryStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    claims = new RecoveryStore(db.sql);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const pendingOrder = async () => {
    const { orderId, correlationId, chargeCents } = await placeSagaOrder({ db }, 'pm_card_visa');
    return { orderId, correlationId, chargeCents };
  };
  const leaseOf = async (orderId: string) => {
    const [row] = await db.sql<{ lease: Date | null }[]>`
      select recovery_lease_until as lease from orders where id = ${orderId}`;
    return row?.lease ?? null;
  };
  const worker = (
    starter: SagaStarter,
    options: {
      visibility?: MessageVisibility;
      startsPerSecond?: number;
      random?: () => number;
      store?: RecoveryStore;
      sleep?: (ms: number) => Promise<unknown>;
    } = {},
  ) =>
    createSagaStartWorker({
      starter,
      claims: options.store ?? claims,
      visibility: options.visibility ?? new RecordingVisibility(),
      startsPerSecond: options.startsPerSecond ?? 1000,
      random: options.random ?? (() => 0),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  /** Records each wait the worker asks for, and lets it go on at once. */
  const recordedSleep = () => {
    const waits: number[] = [];
    return {
      waits,
      sleep: async (ms: number) => {
        waits.push(ms);
      },
    };
  };
  const context = (timeoutMs: number) =>
    createLambdaContext({ functionName: 'checkout-saga-starter', timeoutMs });

  test("starts each message's saga, gives its lease back and reports nothing failed", async () => {
    const orders = [await pendingOrder(), await pendingOrder()];
    const starter = new ScriptedStarter();

    const response = await worker(starter)(eventOf(...orders.map(record)), context(10_000));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(starter.startedOrders()).toEqual(orders.map((o) => o.orderId));
    for (const order of orders) expect(await leaseOf(order.orderId)).toBeNull();
  });

  test('holds the lease on the order while it starts, until the end of the invocation and the margin after it', async () => {
    const order = await pendingOrder();
    let lease: Date | null = null;
    const starter = new ScriptedStarter(0, async (input) => {
      lease = await leaseOf(input.orderId);
    });
    const before = Date.now();

    await worker(starter)(eventOf(record(order)), context(20_000));

    // The invocation's 20 s, less the stop margin for the deadline, plus twice the margin.
    const expected = before + 20_000 + SAGA_STARTER_STOP_MARGIN_SECONDS * 1000;
    expect(lease).not.toBeNull();
    expect((lease as unknown as Date).getTime()).toBeGreaterThanOrEqual(expected - 1_000);
    expect((lease as unknown as Date).getTime()).toBeLessThanOrEqual(
      Date.now() + 20_000 + 2 * SAGA_STARTER_STOP_MARGIN_SECONDS * 1000,
    );
  });

  test('retries a failed start within the invocation, with backoff, and starts it once', async () => {
    const order = await pendingOrder();
    const starter = new ScriptedStarter(2);
    const draws: number[] = [];
    const leases: string[] = [];
    class CountsLeases extends RecoveryStore {
      override async claimStart(orderId: string, leaseSeconds: number) {
        leases.push(orderId);
        return super.claimStart(orderId, leaseSeconds);
      }
    }

    const response = await worker(starter, {
      store: new CountsLeases(db.sql),
      random: () => {
        draws.push(1);
        return 0.01;
      },
    })(eventOf(record(order)), context(10_000));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(starter.attempts).toHaveLength(3);
    // The lease is taken once and held through the retries, not taken again for each.
    expect(leases).toEqual([order.orderId]);
    expect(starter.startedOrders()).toEqual([order.orderId]);
    expect(draws).toHaveLength(2);
    expect(await leaseOf(order.orderId)).toBeNull();
  });

  test('the backoff doubles from 100 ms up to 2 s, full jitter', async () => {
    const order = await pendingOrder();
    const starter = new ScriptedStarter(6);
    const { waits, sleep } = recordedSleep();

    await worker(starter, { random: () => 0.5, sleep })(eventOf(record(order)), context(30_000));

    // Half (the draw) of 100, 200, 400, 800, 1600 and 2000 (the cap) ms; the pace's waits of about
    // a millisecond between them left out.
    expect(waits.filter((ms) => ms >= 10)).toEqual([50, 100, 200, 400, 800, 1000]);
    expect(starter.startedOrders()).toEqual([order.orderId]);
  });

  test('a start still failing at the deadline is handed back within seconds, with the rest of the batch untried', async () => {
    const [first, second] = [await pendingOrder(), await pendingOrder()];
    const starter = new ScriptedStarter(1_000);
    const visibility = new RecordingVisibility();
    const records = [record(first), record(second)];

    // 2.5 s: half a second of trying after the stop margin.
    const response = await worker(starter, { visibility, random: () => 0.5 })(
      eventOf(...records),
      context(2_500),
    );

    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    expect(new Set(starter.attempts.map((a) => a.orderId))).toEqual(new Set([first?.orderId]));
    // 1 to 5 s, by the draw: 0.5 of five whole seconds is 2, plus the minimum of 1.
    expect(visibility.changes).toEqual(records.map((r) => ({ receiptHandle: r.receiptHandle, seconds: 3 })));
    expect(await leaseOf(first?.orderId ?? '')).toBeNull();
  });

  test('the hand-back delay spans 1 to 5 seconds', async () => {
    const seconds: number[] = [];
    for (const draw of [0, 0.999]) {
      const visibility = new RecordingVisibility();
      await worker(new ScriptedStarter(1_000), { visibility, random: () => draw })(
        eventOf(record(await pendingOrder())),
        context(2_100),
      );
      seconds.push(...visibility.changes.map((c) => c.seconds));
    }
    expect(seconds).toEqual([1, 5]);
  });

  test('a hand-back that fails still reports the message as failed, so SQS brings it back', async () => {
    const message = record(await pendingOrder());

    const response = await worker(new ScriptedStarter(1_000), { visibility: new RecordingVisibility(true) })(
      eventOf(message),
      context(2_100),
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
  });

  test('an order that is gone, or no longer PENDING, needs no start: done, nothing started', async () => {
    const moved = await pendingOrder();
    await new OrderStore(db.sql).markAuthorized(moved.orderId, 'auth-1', 'c');
    const missing = { orderId: randomUUID(), correlationId: 'c', chargeCents: 100 };
    const starter = new ScriptedStarter();

    const response = await worker(starter)(eventOf(record(moved), record(missing)), context(10_000));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(starter.attempts).toEqual([]);
  });

  test("an order leased by the sweeper is not started, and the sweeper's lease is left alone", async () => {
    const order = await pendingOrder();
    await db.sql`update orders set recovery_lease_until = now() + interval '1 minute' where id = ${order.orderId}`;
    const sweeperLease = await leaseOf(order.orderId);
    const starter = new ScriptedStarter();
    const message = record(order);

    const response = await worker(starter)(eventOf(message), context(2_300));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(starter.attempts).toEqual([]);
    expect(await leaseOf(order.orderId)).toEqual(sweeperLease);
  });

  test('with the database away the start is tried again later, never made without its lease', async () => {
    const order = await pendingOrder();
    class Unreachable extends RecoveryStore {
      override async claimStart(): Promise<never> {
        throw new DatabaseUnavailableError('connect ECONNREFUSED');
      }
    }
    const starter = new ScriptedStarter();
    const message = record(order);

    const response = await worker(starter, { store: new Unreachable(db.sql) })(
      eventOf(message),
      context(2_300),
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    expect(starter.attempts).toEqual([]);
  });

  test('a lease that cannot be given back does not undo the start', async () => {
    const order = await pendingOrder();
    class KeepsLease extends RecoveryStore {
      override async releaseStart(): Promise<never> {
        throw new DatabaseUnavailableError('connect ECONNREFUSED');
      }
    }
    const starter = new ScriptedStarter();

    const response = await worker(starter, { store: new KeepsLease(db.sql) })(
      eventOf(record(order)),
      context(10_000),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(starter.startedOrders()).toEqual([order.orderId]);
    expect(await leaseOf(order.orderId)).not.toBeNull();
  });

  test('a message that is not a saga start fails on its own and is not handed back early', async () => {
    const good = record(await pendingOrder());
    const notJson = record('{not json');
    const notAStart = record({ orderId: 'not-a-uuid', correlationId: '', chargeCents: -1 });
    const visibility = new RecordingVisibility();
    const starter = new ScriptedStarter();

    const response = await worker(starter, { visibility })(
      eventOf(notJson, good, notAStart),
      context(10_000),
    );

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: notJson.messageId },
      { itemIdentifier: notAStart.messageId },
    ]);
    expect(starter.attempts).toHaveLength(1);
    expect(visibility.changes).toEqual([]);
  });

  test('never sleeps past its deadline: a backoff that would end after it hands the message back instead', async () => {
    const message = record(await pendingOrder());
    const starter = new ScriptedStarter(1_000);
    const { waits, sleep } = recordedSleep();

    // 1 s to try in (the invocation's 3 s less the stop margin); the recorded sleep returns at once.
    const response = await worker(starter, { random: () => 1, sleep })(eventOf(message), context(3_000));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: message.messageId }]);
    const backoffs = waits.filter((ms) => ms >= 10);
    expect(backoffs.length).toBeGreaterThan(0);
    expect(backoffs.every((ms) => ms < 1_000)).toBe(true);
  });

  test.each([
    0,
    -1,
    Number.NaN,
  ])('a pace of %s starts per second is refused at once, naming it', (startsPerSecond) => {
    expect(() => worker(new ScriptedStarter(), { startsPerSecond })).toThrow(
      new RangeError(`startsPerSecond must be positive, got ${startsPerSecond}`),
    );
  });

  test('starts are paced: one container makes at most startsPerSecond', async () => {
    const orders = [await pendingOrder(), await pendingOrder(), await pendingOrder()];
    const starter = new ScriptedStarter();
    const { waits, sleep } = recordedSleep();

    await worker(starter, { startsPerSecond: 5, sleep })(eventOf(...orders.map(record)), context(10_000));

    // The first goes at once; each next one is due 200 ms after the one before (the recorded
    // sleep returns at once, so the second waits nearly 200 ms and the third nearly 400). What the
    // worker itself spent in between comes off each wait.
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThan(200 - 150);
    expect(waits[0]).toBeLessThanOrEqual(200);
    expect(waits[1]).toBeGreaterThan(400 - 150);
    expect(waits[1]).toBeLessThanOrEqual(400);
    expect(starter.startedOrders()).toHaveLength(3);
  });
});
