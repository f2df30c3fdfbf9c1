import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { createLambdaContext } from '../../local/aws/lambda-context.js';

const TABLE = 'idempotency';

interface CaptureRequest {
  readonly paymentId: string;
  readonly amount: number;
}

describe('Powertools idempotency over the local DynamoDB', () => {
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
  });

  /** A side effect that counts its runs, made idempotent on `paymentId`. */
  function idempotentCapture(bodyDelayMs = 0) {
    const calls = { runs: 0 };
    const config = new IdempotencyConfig({ eventKeyJmesPath: 'paymentId' });
    // As a handler would: Powertools bounds the in-progress lock by the invocation's remaining time.
    config.registerLambdaContext(createLambdaContext({ functionName: 'capture-payment' }));
    const capture = makeIdempotent(
      async (request: CaptureRequest) => {
        calls.runs += 1;
        await new Promise((resolve) => setTimeout(resolve, bodyDelayMs));
        return { captureId: `capture-${calls.runs}`, amount: request.amount };
      },
      {
        persistenceStore: new DynamoDBPersistenceLayer({ tableName: TABLE, awsSdkV3Client: client }),
        config,
      },
    );
    return { capture, calls };
  }

  test('creating the table again is accepted', async () => {
    await expect(createIdempotencyTable(client, TABLE)).resolves.toBeUndefined();
  });

  test('the same payload runs the function once and replays its result', async () => {
    const { capture, calls } = idempotentCapture();
    const request = { paymentId: 'pay-replay', amount: 4200 };

    const first = await capture(request);
    const second = await capture(request);

    expect(calls.runs).toBe(1);
    expect(second).toEqual(first);
    expect(first).toEqual({ captureId: 'capture-1', amount: 4200 });
  });

  test('ten concurrent calls with the same key run the function body exactly once', async () => {
    const { capture, calls } = idempotentCapture(300);
    const request = { paymentId: 'pay-concurrent', amount: 990 };

    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => capture(request)));

    expect(calls.runs).toBe(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled')
        expect(outcome.value).toEqual({ captureId: 'capture-1', amount: 990 });
      else expect(outcome.reason).toBeInstanceOf(IdempotencyAlreadyInProgressError);
    }
    expect(outcomes.some((outcome) => outcome.status === 'fulfilled')).toBe(true);
    // Once the first call has finished, everyone gets the stored result.
    await expect(capture(request)).resolves.toEqual({ captureId: 'capture-1', amount: 990 });
    expect(calls.runs).toBe(1);
  });
});

test('with a data folder, tables and records survive a restart', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'checkout-dynalite-'));
  try {
    const first = await startLocalDynamoDb({ dataDir });
    const firstClient = createLocalDynamoDbClient(first.endpoint);
    await createIdempotencyTable(firstClient, TABLE);
    await firstClient.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'kept' } } }));
    firstClient.destroy();
    await first.close();

    const second = await startLocalDynamoDb({ dataDir });
    const secondClient = createLocalDynamoDbClient(second.endpoint);
    const { Item } = await secondClient.send(
      new GetItemCommand({ TableName: TABLE, Key: { id: { S: 'kept' } } }),
    );
    secondClient.destroy();
    await second.close();

    expect(Item).toEqual({ id: { S: 'kept' } });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
