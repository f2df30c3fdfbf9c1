import type { Sql } from '../db/client.js';
import { OutboxStore } from '../db/outbox.js';
import { describeError } from '../runtime/errors.js';
import { logger } from '../runtime/observability.js';
import type { EventPublisher, OutboxEvent } from './event-publishers.js';

/** What one relay round did. */
export interface RelayRound {
  /** Events this round took off the outbox (leased to it). */
  readonly claimed: number;
  /**
   * Events this round marked published. An event another relay marked first (after its lease ran
   * out and both delivered it) is delivered but not counted, so across relays each event counts once.
   */
  readonly published: number;
  /** Events the sink refused; they are back in the outbox with a backoff. */
  readonly failed: number;
}

export interface RelayOutboxOptions {
  /** A pool without a transaction: every statement of a round commits on its own. */
  readonly sql: Sql;
  readonly publisher: EventPublisher;
  /** @default 50 */
  readonly batchSize?: number;
  /**
   * How long a claimed event stays invisible to other relays while this one publishes it. Longer
   * than a round takes; a relay that dies mid-round has its events republished once it runs out.
   * @default 60
   */
  readonly leaseSeconds?: number;
  /** First retry delay; doubled on every further failure. @default 5 */
  readonly baseBackoffSeconds?: number;
  /** @default 900 */
  readonly maxBackoffSeconds?: number;
  /** Source of the jitter in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** The outbox could not be updated after publishing: the events will be published again. */
export class OutboxMarkError extends Error {
  override readonly name = 'OutboxMarkError';
}

const DEFAULT_BATCH_SIZE = 50;

/**
 * One round of the transactional outbox relay: claim a batch, publish it, record the outcome.
 *
 * No transaction spans the network call (RDS Proxy: short transactions, no session state). The
 * claim is instead a lease: the claiming statement pushes `next_attempt_at` past the round, so
 * other relays skip the batch while it is being published, and get it back if this one dies.
 * Delivery is at least once: a crash between publishing and marking publishes the events again
 * after the lease, with the same event id (`outbox_events.id`) for consumers to de-duplicate on.
 */
export async function relayOutbox(options: RelayOutboxOptions): Promise<RelayRound> {
  const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_BATCH_SIZE);
  const leaseSeconds = positiveInteger('leaseSeconds', options.leaseSeconds ?? 60);
  const backoff: BackoffPolicy = {
    baseSeconds: positiveInteger('baseBackoffSeconds', options.baseBackoffSeconds ?? 5),
    maxSeconds: positiveInteger('maxBackoffSeconds', options.maxBackoffSeconds ?? 900),
    random: options.random ?? Math.random,
  };
  const store = new OutboxStore(options.sql);

  const events = await store.claim(batchSize, leaseSeconds);
  if (events.length === 0) return { claimed: 0, published: 0, failed: 0 };

  const failures = await deliver(options.publisher, events);
  const delivered = events.filter((event) => !failures.has(event.id)).map((event) => event.id);
  const retries = events
    .filter((event) => failures.has(event.id))
    .map((event) => ({
      id: event.id,
      error: failures.get(event.id) as string,
      delayMs: Math.round(backoffSeconds(event.attempts + 1, backoff) * 1000),
    }));

  let published: number;
  try {
    published = await store.markPublished(delivered);
  } catch (error) {
    throw new OutboxMarkError(
      `${delivered.length} event(s) were published but not marked; they will be published again`,
      { cause: error },
    );
  }
  const failed = await store.markFailed(retries);

  if (retries.length > 0) {
    logger.warn('outbox events not published, retrying later', {
      failed: retries.length,
      eventIds: retries.map((retry) => retry.id),
      firstError: retries[0]?.error,
    });
  }
  return { claimed: events.length, published, failed };
}

export interface DrainOutboxOptions extends RelayOutboxOptions {
  /** Asked before every round after the first: false stops, e.g. when the Lambda is running out of time. */
  readonly shouldContinue?: () => boolean;
  /** A bound on one drain whatever the backlog. @default 100 */
  readonly maxRounds?: number;
}

export interface DrainResult extends RelayRound {
  readonly rounds: number;
}

/**
 * Relays rounds until one claims less than a full batch (the outbox is drained of due events),
 * `shouldContinue` says stop, or `maxRounds` is reached. Refused events are backed off, so they do
 * not come round again within one drain.
 */
export async function drainOutbox(options: DrainOutboxOptions): Promise<DrainResult> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxRounds = positiveInteger('maxRounds', options.maxRounds ?? 100);
  const total = { claimed: 0, published: 0, failed: 0, rounds: 0 };
  do {
    const round = await relayOutbox(options);
    total.rounds += 1;
    total.claimed += round.claimed;
    total.published += round.published;
    total.failed += round.failed;
    if (round.claimed < batchSize) break;
  } while (total.rounds < maxRounds && (options.shouldContinue?.() ?? true));
  return total;
}

export interface BackoffPolicy {
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  /** In [0, 1). */
  readonly random: () => number;
}

/**
 * The delay before retrying an event that has now failed `attempt` times: exponential, capped, with
 * full jitter (drawn from [0, ceiling]), as every retry against a shared resource here
 * (docs/adr/0020): the events of a batch the bus refused come back spread over the whole window,
 * not in a wave at its middle. A draw near zero only makes the event due again; it is claimed by a
 * later round, one request for the whole batch.
 */
export function backoffSeconds(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  // Capping the exponent first keeps 2 ** exponent finite for events that failed thousands of times.
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.min(exponent, 52));
  return policy.random() * ceiling;
}

/** Publishes and returns the failures by event id; a publisher that throws fails the whole batch. */
async function deliver(publisher: EventPublisher, events: OutboxEvent[]): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  try {
    const result = await publisher.publish(events);
    const claimed = new Set(events.map((event) => event.id));
    for (const id of result.failedIds) {
      if (claimed.has(id)) failures.set(id, result.errors?.[id] ?? 'rejected by the event sink');
    }
  } catch (error) {
    const reason = describeError(error);
    for (const event of events) failures.set(event.id, reason);
  }
  return failures;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
