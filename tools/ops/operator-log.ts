import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  OPERATOR_CONTROLS_KEY,
  OPERATOR_CONTROLS_SORT_KEY,
  OPERATOR_LOG_PARTITION,
} from '../../src/api/checkout-switch.js';

/**
 * The operator log (docs/adr/0024-operator-console-and-kill-switches.md): one item per operator
 * action that concerns no single order (a switch changed, a DLQ redriven, a bulk retry), in the
 * operator controls table's `log` partition, sorted by time. Actions on one order are recorded on
 * that order's timeline instead, by the admin API.
 */
export interface OperatorLogEntry {
  /** ISO 8601. */
  readonly at: string;
  /** The IAM principal (or, locally, the user) that acted. */
  readonly by: string;
  /** e.g. `switch checkout off`, `redrive dlq`, `retry matching`. */
  readonly action: string;
  readonly reason: string;
  /** What the action touched, in the operator's words: a count, a filter. */
  readonly detail: Readonly<Record<string, string>>;
}

/** Where the log and the switches are kept, and who is acting. */
export interface OperatorControlsStore {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
}

/** The log item of an entry. */
export function logEntryItem(entry: OperatorLogEntry): Record<string, AttributeValue> {
  return {
    [OPERATOR_CONTROLS_KEY]: { S: OPERATOR_LOG_PARTITION },
    // Time first, so a Query reads the log in order; the uuid keeps two entries of one millisecond apart.
    [OPERATOR_CONTROLS_SORT_KEY]: { S: `${entry.at}#${randomUUID()}` },
    at: { S: entry.at },
    by: { S: entry.by },
    action: { S: entry.action },
    reason: { S: entry.reason },
    detail: {
      M: Object.fromEntries(Object.entries(entry.detail).map(([key, value]) => [key, { S: value }])),
    },
  };
}

/**
 * Writes up to 25 items in one BatchWriteItem, retrying what DynamoDB leaves unprocessed: the
 * items of one record (a switch and its log entry) arrive in one request, so a crash of this
 * process cannot write one without the other once the request is sent. A batch rather than a
 * transaction because the local DynamoDB has no TransactWriteItems; each item is a whole Put,
 * so writing one twice is harmless.
 */
export async function writeItems(
  store: OperatorControlsStore,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
  let pending = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt) * Math.random());
    if (attempt === 6)
      throw new Error(`DynamoDB left ${pending.length} item(s) unprocessed after ${attempt} attempts`);
    const { UnprocessedItems } = await store.dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { [store.tableName]: pending } }),
    );
    pending = (UnprocessedItems?.[store.tableName] ?? []).flatMap((request) =>
      request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
    );
  }
}

/** Appends one entry. */
export async function appendOperatorLog(
  store: OperatorControlsStore,
  entry: OperatorLogEntry,
): Promise<void> {
  await writeItems(store, [logEntryItem(entry)]);
}

/** The newest `limit` entries, newest first. */
export async function readOperatorLog(
  store: OperatorControlsStore,
  limit: number,
): Promise<OperatorLogEntry[]> {
  const { Items = [] } = await store.dynamodb.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: '#id = :log',
      ExpressionAttributeNames: { '#id': OPERATOR_CONTROLS_KEY },
      ExpressionAttributeValues: { ':log': { S: OPERATOR_LOG_PARTITION } },
      ScanIndexForward: false,
      Limit: limit,
      ConsistentRead: true,
    }),
  );
  return Items.map((item) => ({
    at: item.at?.S ?? '',
    by: item.by?.S ?? '',
    action: item.action?.S ?? '',
    reason: item.reason?.S ?? '',
    detail: Object.fromEntries(
      Object.entries(item.detail?.M ?? {}).map(([key, value]) => [key, value.S ?? '']),
    ),
  }));
}
