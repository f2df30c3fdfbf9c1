import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { OutboxEvent } from '../db/outbox.js';
import { describeError } from '../runtime/errors.js';

export type { OutboxEvent } from '../db/outbox.js';

/** What a consumer receives, on the bus or from any other publisher alike. */
export interface EventEnvelope {
  /** The de-duplication key: the same event published twice carries the same id. */
  readonly eventId: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly correlationId: string | null;
  readonly data: unknown;
}

export interface PublishResult {
  /** Events the sink did not accept; every other event of the call was delivered. */
  readonly failedIds: string[];
  /** Why, by event id, where the sink said; recorded as the event's `last_error`. */
  readonly errors?: Readonly<Record<string, string>>;
}

/**
 * The port the outbox relay publishes through: EventBridge in AWS; tests and tools give their own.
 * A publisher reports per-event failures in its result; a thrown error fails the whole call.
 */
export interface EventPublisher {
  publish(events: readonly OutboxEvent[]): Promise<PublishResult>;
}

/** The event as consumers see it. */
export function toEnvelope(event: OutboxEvent): EventEnvelope {
  return {
    eventId: event.id,
    type: event.type,
    occurredAt: event.createdAt,
    correlationId: event.correlationId,
    data: event.payload,
  };
}

/** PutEvents takes at most 10 entries per call. */
export const PUT_EVENTS_MAX_ENTRIES = 10;

export interface EventBridgePublisherOptions {
  /** Created once per container and shared (habit 2); give it request and connection timeouts. */
  readonly client: EventBridgeClient;
  readonly eventBusName: string;
  /** @default 'checkout' */
  readonly source?: string;
}

/**
 * Publishes outbox events to an EventBridge bus: `Source` is the service, `DetailType` the event
 * type, `Detail` the envelope. Entries go out in PutEvents calls of 10, in parallel. EventBridge
 * accepts or rejects each entry on its own (`FailedEntryCount`, `Entries[i].ErrorCode`), so a
 * partial failure fails only those events; a call that throws fails all of its entries.
 */
export class EventBridgePublisher implements EventPublisher {
  private readonly client: EventBridgeClient;
  private readonly eventBusName: string;
  private readonly source: string;

  constructor(options: EventBridgePublisherOptions) {
    this.client = options.client;
    this.eventBusName = options.eventBusName;
    this.source = options.source ?? 'checkout';
  }

  async publish(events: readonly OutboxEvent[]): Promise<PublishResult> {
    const chunks: OutboxEvent[][] = [];
    for (let start = 0; start < events.length; start += PUT_EVENTS_MAX_ENTRIES) {
      chunks.push(events.slice(start, start + PUT_EVENTS_MAX_ENTRIES));
    }
    const outcomes = await Promise.all(chunks.map((chunk) => this.putChunk(chunk)));
    const failedIds: string[] = [];
    const errors: Record<string, string> = {};
    for (const outcome of outcomes) {
      for (const [id, error] of outcome) {
        failedIds.push(id);
        errors[id] = error;
      }
    }
    return { failedIds, errors };
  }

  /** The failures of one PutEvents call, by event id. */
  private async putChunk(chunk: readonly OutboxEvent[]): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    try {
      const response = await this.client.send(
        new PutEventsCommand({ Entries: chunk.map((event) => this.toEntry(event)) }),
      );
      if (!response.FailedEntryCount) return failures;
      // Entries answer the request entries by position.
      chunk.forEach((event, index) => {
        const entry = response.Entries?.[index];
        if (entry?.EventId && !entry.ErrorCode) return;
        failures.set(
          event.id,
          entry?.ErrorCode
            ? `${entry.ErrorCode}: ${entry.ErrorMessage ?? 'no message'}`
            : 'PutEvents reported failures without a result for this entry',
        );
      });
    } catch (error) {
      const reason = describeError(error);
      for (const event of chunk) failures.set(event.id, reason);
    }
    return failures;
  }

  private toEntry(event: OutboxEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.eventBusName,
      Source: this.source,
      DetailType: event.type,
      Detail: JSON.stringify(toEnvelope(event)),
      Time: new Date(event.createdAt),
    };
  }
}
