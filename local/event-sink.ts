import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from 'postgres';
import {
  type EventEnvelope,
  type EventPublisher,
  type OutboxEvent,
  type PublishResult,
  toEnvelope,
} from '../src/ops/event-publishers.js';
import { type DrainResult, drainOutbox } from '../src/ops/outbox-relay.js';
import { repeatEvery } from './timers.js';
import type { UsageMeter } from './usage.js';

export interface LocalEventSinkOptions {
  /** The JSON-lines file events are appended to, e.g. `<dataDir>/events.jsonl`. */
  readonly file: string;
  /** How many of the latest events `recent()` keeps. @default 200 */
  readonly capacity?: number;
  /** Counts PutEvents requests and the events published. @default - not counted */
  readonly usage?: UsageMeter;
}

/** A line of the sink's file: the envelope EventBridge consumers get, plus the bus fields. */
export interface SunkEvent extends EventEnvelope {
  readonly source: 'checkout';
  readonly publishedAt: string;
}

/**
 * The local stand-in for the EventBridge bus: one JSON line per event appended to a file, and the
 * latest events kept in memory for `GET /local/events`. At-least-once like the bus: an event the
 * relay publishes twice appears twice, with the same `eventId`.
 */
export class LocalEventSink implements EventPublisher {
  private readonly file: string;
  private readonly capacity: number;
  private readonly usage: UsageMeter | undefined;
  private readonly latest: SunkEvent[] = [];
  private failure: { readonly matches: (event: OutboxEvent) => boolean; readonly reason: string } | undefined;

  constructor(options: LocalEventSinkOptions) {
    this.file = options.file;
    this.capacity = options.capacity ?? 200;
    this.usage = options.usage;
  }

  async publish(events: readonly OutboxEvent[]): Promise<PublishResult> {
    const failure = this.failure;
    const refused = failure ? events.filter((event) => failure.matches(event)) : [];
    const refusedIds = new Set(refused.map((event) => event.id));
    const publishedAt = new Date().toISOString();
    const accepted: SunkEvent[] = events
      .filter((event) => !refusedIds.has(event.id))
      .map((event) => ({ ...toEnvelope(event), source: 'checkout', publishedAt }));

    // PutEvents: one request per batch, each entry a billed event.
    if (events.length > 0) {
      this.usage?.count('eventBridge.putEvents');
      this.usage?.count('eventBridge.events', accepted.length);
    }
    if (accepted.length > 0) {
      await mkdir(path.dirname(this.file), { recursive: true });
      // One append per batch: a reader never sees half a batch's line.
      await appendFile(this.file, accepted.map((event) => `${JSON.stringify(event)}\n`).join(''), 'utf8');
      this.latest.push(...accepted);
      this.latest.splice(0, Math.max(0, this.latest.length - this.capacity));
    }
    const errors = Object.fromEntries(refused.map((event) => [event.id, failure?.reason ?? '']));
    return { failedIds: [...refusedIds], errors };
  }

  /** The latest events, oldest first; at most `limit`. */
  recent(limit = this.capacity): SunkEvent[] {
    return this.latest.slice(-limit);
  }

  /**
   * Makes the sink refuse the matching events (all by default) until `clearFailure()`, to show
   * in tests and demos that refused events stay in the outbox and are retried.
   */
  injectFailure(
    matches: (event: OutboxEvent) => boolean = () => true,
    reason = 'LocalSinkFailure: injected',
  ): void {
    this.failure = { matches, reason };
  }

  clearFailure(): void {
    this.failure = undefined;
  }
}

export interface LocalOutboxRelayOptions {
  readonly sql: Sql;
  readonly publisher: EventPublisher;
  /** The EventBridge schedule runs the relay every minute; locally events should show up at once. @default 1000 */
  readonly intervalMs?: number;
  /** Backoff ceiling, shorter than in AWS so a recovered sink is seen quickly. @default 30 */
  readonly maxBackoffSeconds?: number;
  readonly onDrain?: (result: DrainResult) => void;
  readonly onError?: (error: unknown) => void;
}

/** A running local relay; `stop()` waits for the round in flight. */
export interface LocalOutboxRelay {
  stop(): Promise<void>;
}

/** The local twin of the scheduled outbox-relay Lambda: drains the outbox on a timer. */
export function startLocalOutboxRelay(options: LocalOutboxRelayOptions): LocalOutboxRelay {
  return repeatEvery(
    options.intervalMs ?? 1000,
    async (stopping) => {
      const result = await drainOutbox({
        sql: options.sql,
        publisher: options.publisher,
        maxBackoffSeconds: options.maxBackoffSeconds ?? 30,
        shouldContinue: () => !stopping.aborted,
      });
      if (result.claimed > 0) options.onDrain?.(result);
    },
    { startAfterMs: 0, ...(options.onError ? { onError: options.onError } : {}) },
  );
}
