import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { findFreePort } from '../ports.js';
import { countAwsRequests, type UsageMeter } from '../usage.js';
import { closeServer, listen } from './http-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-account.js';

/** A DynamoDB-compatible server (dynalite) running inside this process. */
export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`, for the SDK client's `endpoint`. */
  readonly endpoint: string;
  /** Stops the server and closes its store (flushing it to disk when persistent). */
  close(): Promise<void>;
}

export interface StartLocalDynamoDbOptions {
  /** @default - a free port on 127.0.0.1 */
  readonly port?: number;
  /** Folder for a persistent LevelDB store; created when missing. @default - in memory */
  readonly dataDir?: string;
  /** Counts every request by operation (`dynamodb.PutItem`, ...). @default - not counted */
  readonly usage?: UsageMeter;
}

/**
 * Starts dynalite on 127.0.0.1. It speaks enough of the DynamoDB wire protocol for Powertools
 * idempotency (conditional PutItem, GetItem, UpdateItem, DeleteItem) but has no
 * `UpdateTimeToLive`: expired idempotency records are never swept, which is harmless because
 * Powertools checks `expiration` itself on every read.
 */
export async function startLocalDynamoDb(options: StartLocalDynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const port = options.port ?? (await findFreePort());
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });

  // AWS keeps a new table CREATING for seconds; nothing local should depend on that delay.
  const server = dynalite({ path: options.dataDir, createTableMs: 20, deleteTableMs: 20, updateTableMs: 20 });
  if (options.usage) countAwsRequests(server, 'dynamodb', options.usage);
  await listen(server, port, '127.0.0.1');

  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => closeServer(server),
  };
}

/** A DynamoDB client for the local server: dummy credentials, the local region. */
export function createLocalDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** Raised when a table does not reach ACTIVE in time. */
export class TableNotActiveError extends Error {
  override readonly name = 'TableNotActiveError';
}

/**
 * Creates a table shaped as Powertools idempotency expects (partition key `id`, a string;
 * on-demand billing) and resolves once it is ACTIVE. An existing table is accepted as is, so
 * every start of the local stack can call this.
 */
export function createIdempotencyTable(client: DynamoDBClient, tableName: string): Promise<void> {
  return createStringKeyTable(client, tableName, 'id');
}

/**
 * Creates an on-demand table with a string partition key and resolves once it is ACTIVE; an
 * existing table is accepted as is.
 */
export function createStringKeyTable(
  client: DynamoDBClient,
  tableName: string,
  keyAttribute: string,
): Promise<void> {
  return createTable(
    client,
    tableName,
    [{ AttributeName: keyAttribute, KeyType: 'HASH' }],
    [{ AttributeName: keyAttribute, AttributeType: 'S' }],
  );
}

/**
 * Creates an on-demand table with that key schema (as a template defines it) and resolves once it
 * is ACTIVE; an existing table is accepted as is.
 */
export async function createTable(
  client: DynamoDBClient,
  tableName: string,
  keySchema: readonly KeySchemaElement[],
  attributeDefinitions: readonly AttributeDefinition[],
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [...attributeDefinitions],
        KeySchema: [...keySchema],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    // Compared by name: an SDK copy elsewhere in node_modules would defeat `instanceof`.
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  await waitUntilActive(client, tableName);
}

async function waitUntilActive(client: DynamoDBClient, tableName: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new TableNotActiveError(
        `table ${tableName} is still ${Table?.TableStatus} after ${timeoutMs} ms`,
      );
    }
    await sleep(25);
  }
}
