import { randomUUID } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createLocalDynamoDbClient,
  createStringKeyTable,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import {
  CustomerLimiter,
  type CustomerLimits,
  LIMITS_KEY_ATTRIBUTE,
  LIMITS_TTL_ATTRIBUTE,
} from '../../src/api/customer-limits.js';
import { readGroup } from '../../src/config/declarations.js';
import { customerLimits } from '../../src/config/variables.js';

const TABLE = 'customer-limits';
/** 12:00:15 UTC on some day: 45 seconds left in its minute. */
const QUARTER_PAST = Date.UTC(2026, 0, 5, 12, 0, 15);

describe('CustomerLimiter on the DynamoDB stand-in', () => {
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createStringKeyTable(client, TABLE, LIMITS_KEY_ATTRIBUTE);
  });
  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
  });

  function limiter(limits: CustomerLimits, clock: { now: number }) {
    return new CustomerLimiter({ client, tableName: TABLE, limits, now: () => clock.now });
  }

  test('allows the limit, refuses the next with the seconds left in the minute, and the next minute starts afresh', async () => {
    const clock = { now: QUARTER_PAST };
    const limits = limiter({ checkoutsPerMinute: 3 }, clock);
    const customerId = randomUUID();

    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limits.consume(customerId, 'checkout'));
    clock.now += 45_000;
    const nextMinute = await limits.consume(customerId, 'checkout');

    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false]);
    expect(decisions[3]).toEqual({ allowed: false, retryAfterSeconds: 45 });
    expect(nextMinute).toEqual({ allowed: true });
  });

  test('a refused request is not counted, and each customer has counters of their own', async () => {
    const clock = { now: QUARTER_PAST };
    const limits = limiter({ requestsPerMinute: 2 }, clock);
    const [mallory, bob] = [randomUUID(), randomUUID()];
    for (let i = 0; i < 5; i++) await limits.consume(mallory, 'request');

    const bobs = [await limits.consume(bob, 'request'), await limits.consume(bob, 'request')];
    const { Item } = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { id: { S: `${mallory}#${QUARTER_PAST / 1000 - 15}` } } }),
    );

    expect(bobs).toEqual([{ allowed: true }, { allowed: true }]);
    expect(Item?.requests?.N).toBe('2');
    // DynamoDB TTL sweeps the item after its window (plus a minute of slack for clock skew).
    expect(Number(Item?.[LIMITS_TTL_ATTRIBUTE]?.N)).toBe(QUARTER_PAST / 1000 - 15 + 120);
  });

  test('a checkout spends a request too, and the requests limit refuses a checkout', async () => {
    const clock = { now: QUARTER_PAST };
    const limits = limiter({ requestsPerMinute: 2, checkoutsPerMinute: 10 }, clock);
    const customerId = randomUUID();
    await limits.consume(customerId, 'request');
    await limits.consume(customerId, 'checkout');

    const third = await limits.consume(customerId, 'checkout');

    expect(third).toMatchObject({ allowed: false });
  });

  test('with the table unreachable the request goes through (the limits protect capacity, they are no gate)', async () => {
    const unreachable = createLocalDynamoDbClient('http://127.0.0.1:9');
    const limits = new CustomerLimiter({
      client: unreachable,
      tableName: TABLE,
      limits: { requestsPerMinute: 1 },
    });

    const decision = await limits.consume(randomUUID(), 'request');

    unreachable.destroy();
    expect(decision).toEqual({ allowed: true });
  });

  test('limits come from CUSTOMER_REQUESTS_PER_MINUTE and CUSTOMER_CHECKOUTS_PER_MINUTE; unset means off', () => {
    expect(readGroup(customerLimits, {})).toMatchObject({
      requestsPerMinute: undefined,
      checkoutsPerMinute: undefined,
    });
    expect(
      readGroup(customerLimits, {
        CUSTOMER_REQUESTS_PER_MINUTE: '100',
        CUSTOMER_CHECKOUTS_PER_MINUTE: '10',
      }),
    ).toMatchObject({ requestsPerMinute: 100, checkoutsPerMinute: 10 });
    expect(() => readGroup(customerLimits, { CUSTOMER_CHECKOUTS_PER_MINUTE: 'ten' })).toThrow(
      /CUSTOMER_CHECKOUTS_PER_MINUTE/,
    );
  });
});
