import { createServer, type Server } from 'node:net';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DeleteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Sql } from 'postgres';
import { findFreePort } from '../../../local/ports.js';
import { createSql } from '../../../src/db/client.js';

/** A database URL on a port nobody listens on: connections are refused at once. */
export async function refusedDatabaseUrl(): Promise<string> {
  return `postgres://checkout:secret@127.0.0.1:${await findFreePort()}/checkout`;
}

/** A pool whose every query fails with a connection error, as when the database or proxy is down. */
export async function unreachableSql(): Promise<Sql> {
  return createSql(await refusedDatabaseUrl(), { max: 1, connectTimeoutSeconds: 2 });
}

/** A TCP server that accepts connections and never answers: a hung database. */
export async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await findFreePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `postgres://checkout:secret@127.0.0.1:${port}/checkout`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function metricsWith(disabled: boolean): Metrics {
  // Powertools reads POWERTOOLS_METRICS_DISABLED when the instance is built (the vitest config
  // disables metrics for the whole run).
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = String(disabled);
  try {
    return new Metrics({ namespace: 'CheckoutTest', serviceName: 'checkout', logger: silent });
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}

/** Powertools metrics that print nothing (tests count outcomes through the metrics port instead). */
export function quietMetrics(): Metrics {
  return metricsWith(true);
}

/** Powertools metrics that print their EMF lines to stdout, as in Lambda. */
export function emfMetrics(): Metrics {
  return metricsWith(false);
}

/** Every item of a table (dynalite tables in tests are small). */
export async function scanTable(client: DynamoDBClient, tableName: string) {
  const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
  return Items;
}

/** Deletes every idempotency record, as if they had expired and been swept. */
export async function clearTable(client: DynamoDBClient, tableName: string): Promise<void> {
  for (const item of await scanTable(client, tableName)) {
    if (item.id) await client.send(new DeleteItemCommand({ TableName: tableName, Key: { id: item.id } }));
  }
}

/** Rows of the tables a checkout writes, to prove a refused request wrote nothing. */
export async function writeCounts(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<{ orders: number; reservations: number; wallet_transactions: number }[]>`
    select
      (select count(*) from orders)::int as orders,
      (select count(*) from reservations)::int as reservations,
      (select count(*) from wallet_transactions)::int as wallet_transactions
  `;
  return { ...(row as Record<string, number>) };
}
