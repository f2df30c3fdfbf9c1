import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createCheckoutHandler } from '../../lambdas/api/checkout.js';
import {
  createIdempotencyTable,
  createLocalDynamoDbClient,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import type { ApiGatewayHandler } from '../../src/api/http.js';
import { createCheckoutIdempotency } from '../../src/api/idempotency.js';
import { PROBLEMS } from '../../src/api/problems.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedProducts, seedWallet } from '../support/fixtures.js';
import { quietMetrics, scanTable, writeCounts } from './support/environment.js';
import { apiEvent, invoke } from './support/events.js';
import { RecordingCheckoutMetrics, RecordingSagaStartBuffer, RecordingSagaStarter } from './support/fakes.js';

/**
 * A malformed-input sweep over POST /v1/checkout: hundreds of generated requests that must all be
 * refused with a 4xx problem, none with a 5xx, and none may write a row or an idempotency record.
 * The cart they are mutated from is valid and its SKU is in stock, so a case that slipped through
 * validation would place an order and fail the sweep.
 */

const TABLE = 'sweep-idempotency';
const CUSTOMER = 'sweep-customer';

interface SweepCase {
  readonly name: string;
  /** A string is sent as is; anything else JSON-encoded. */
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  /** Override the Idempotency-Key header; null leaves it out. */
  readonly key?: string | null;
  readonly customerId?: string | null;
  readonly isBase64Encoded?: boolean;
  /** The code the case must be refused with. */
  readonly code: string;
}

const VALID = {
  items: [{ sku: 'SWEEP-1', quantity: 1 }],
  currency: 'USD',
  paymentMethod: 'pm_card_visa',
  storeCreditCents: 0,
};

/** Values of every JSON type and some that are odd in other ways. */
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '😀',
  '\u202e',
  '\ufeff',
  'x'.repeat(10_000),
  '__proto__',
  'constructor',
  '<script>',
  "'; drop table orders; --",
  '%00',
  '\n',
];
const WRONG_TYPES: unknown[] = [null, true, false, 0, 1, -1, 1.5, 1e308, [], {}, [1], { a: 1 }];

function withField(field: string, value: unknown): Record<string, unknown> {
  return { ...VALID, [field]: value };
}

function without(field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...VALID };
  delete copy[field];
  return copy;
}

function withLine(line: unknown): Record<string, unknown> {
  return { ...VALID, items: [line] };
}

function generateCases(): SweepCase[] {
  const cases: SweepCase[] = [];
  const invalid = (name: string, body: unknown, extra: Partial<SweepCase> = {}) =>
    cases.push({ name, body, code: 'VALIDATION_FAILED', ...extra });

  // The body as a whole.
  for (const text of [
    '',
    ' ',
    '{',
    '}',
    '[',
    '{"items":}',
    '{"items": [}',
    "{'items': []}",
    '{"items": [],}',
    '{items: []}',
    'NaN',
    'Infinity',
    'undefined',
    '{"a":1}{"b":2}',
    '/* comment */ {}',
    '\u0000',
    '{"items":[{"sku":"SWEEP-1","quantity":1}],"currency":"USD","paymentMethod":"pm_card_visa"',
  ]) {
    invalid(`invalid JSON ${JSON.stringify(text.slice(0, 40))}`, text);
  }
  invalid('deeply nested arrays', `{"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`);
  for (const value of [
    '[]',
    '[{}]',
    '"text"',
    '42',
    'null',
    'true',
    'false',
    '{}',
    `[${JSON.stringify(VALID)}]`,
  ]) {
    invalid(`a body that is not the cart object: ${value.slice(0, 30)}`, value);
  }

  // Every member missing, or of a wrong type, or an odd string.
  for (const field of ['items', 'currency', 'paymentMethod']) {
    invalid(`missing ${field}`, without(field));
  }
  for (const field of ['items', 'currency', 'paymentMethod', 'storeCreditCents']) {
    // 0 and 1 are valid amounts of store credit; every other value is wrong for every member.
    const wrong = field === 'storeCreditCents' ? WRONG_TYPES.filter((v) => v !== 0 && v !== 1) : WRONG_TYPES;
    for (const value of wrong) invalid(`${field} = ${JSON.stringify(value)}`, withField(field, value));
    for (const value of ODD_STRINGS)
      invalid(`${field} = odd string ${JSON.stringify(value.slice(0, 20))}`, withField(field, value));
  }

  // Cart lines.
  invalid('no lines', withField('items', []));
  invalid(
    '51 lines',
    withField(
      'items',
      Array.from({ length: 51 }, (_, i) => ({ sku: `SWEEP-${i}`, quantity: 1 })),
    ),
  );
  invalid(
    '1000 lines',
    withField(
      'items',
      Array.from({ length: 1000 }, () => ({ sku: 'SWEEP-1', quantity: 1 })),
    ),
  );
  for (const value of WRONG_TYPES.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))) {
    invalid(`a line that is ${JSON.stringify(value)}`, withLine(value));
  }
  invalid('a line without sku', withLine({ quantity: 1 }));
  invalid('a line without quantity', withLine({ sku: 'SWEEP-1' }));
  invalid('a line with a price', withLine({ sku: 'SWEEP-1', quantity: 1, priceCents: 1 }));
  for (const quantity of [
    0,
    -1,
    -0.5,
    0.5,
    1.5,
    101,
    1000,
    1e9,
    2 ** 53,
    -(2 ** 53),
    1e308,
    '1',
    '2',
    null,
    true,
    [],
    {},
    'NaN',
  ]) {
    invalid(`quantity ${JSON.stringify(quantity)}`, withLine({ sku: 'SWEEP-1', quantity }));
  }
  for (const raw of ['1e400', '-1e400', '1.0000000000000002', '1e-400', '-0.0001']) {
    invalid(
      `quantity written as ${raw}`,
      JSON.stringify(withLine({ sku: 'SWEEP-1', quantity: 7 })).replace('7', raw),
    );
  }
  for (const sku of [
    // 'constructor' is a well-formed SKU (an unknown one, answered 404): not malformed input.
    ...ODD_STRINGS.filter((value) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(value)),
    '-SWEEP',
    '.SWEEP',
    '_SWEEP',
    'SWEEP 1',
    'SWEEP/1',
    'SWEEP\t1',
    'S'.repeat(65),
    'ÄÖÜ',
    'SWEEP-1\u0000',
    'SWEEP-1\n',
    12,
    null,
    true,
    ['SWEEP-1'],
    { sku: 'SWEEP-1' },
  ]) {
    invalid(`sku ${JSON.stringify(sku).slice(0, 40)}`, withLine({ sku, quantity: 1 }));
  }

  // One bad line hidden among valid ones, at the start, middle and end of a full cart.
  const badLines: unknown[] = [
    { sku: 'SWEEP-1', quantity: 0 },
    { sku: 'SWEEP-1', quantity: 101 },
    { sku: 'SWEEP-1', quantity: 2.5 },
    { sku: 'SWEEP-1' },
    { sku: '', quantity: 1 },
    { sku: 'SWEEP-1', quantity: 1, discount: 1 },
    null,
    'SWEEP-1',
  ];
  for (const position of [0, 25, 49]) {
    for (const bad of badLines) {
      const items: unknown[] = Array.from({ length: 50 }, () => ({ sku: 'SWEEP-1', quantity: 1 }));
      items[position] = bad;
      invalid(`line ${position} of 50 is ${JSON.stringify(bad)}`, withField('items', items));
    }
  }

  // Several members wrong at once.
  for (const currency of ['usd', null, 7]) {
    for (const paymentMethod of ['visa', '', ['pm_card_visa']]) {
      invalid(`currency ${JSON.stringify(currency)} with paymentMethod ${JSON.stringify(paymentMethod)}`, {
        ...VALID,
        currency,
        paymentMethod,
      });
    }
  }

  // Currency, payment method and store credit.
  for (const currency of [
    'usd',
    'Usd',
    'US',
    'USDD',
    'XXX',
    'BTC',
    'JPY',
    'USD ',
    ' USD',
    'U\u0000D',
    'ＵＳＤ',
  ]) {
    invalid(`currency ${JSON.stringify(currency)}`, withField('currency', currency));
  }
  for (const paymentMethod of [
    'pm_',
    'pm',
    'card_visa',
    'PM_card_visa',
    'pm_Card_Visa',
    'pm_card-visa',
    'pm_card visa',
    `pm_${'a'.repeat(62)}`,
    'pm_card_visa\u0000',
    'pm_card_visa\n',
    'pm_ｃａｒｄ',
  ]) {
    invalid(
      `paymentMethod ${JSON.stringify(paymentMethod).slice(0, 40)}`,
      withField('paymentMethod', paymentMethod),
    );
  }
  for (const credit of [-1, -0.01, 0.5, 2 ** 53, Number.POSITIVE_INFINITY, '0', '100']) {
    invalid(`storeCreditCents ${String(credit)}`, withField('storeCreditCents', credit));
  }

  // Members that must not be there, prototype pollution included.
  for (const member of [
    'totalCents',
    'priceCents',
    'chargeCents',
    'orderId',
    'customerId',
    'status',
    '__proto__',
    'constructor',
    'prototype',
    '',
    ' ',
    '\u0000',
    '\ud800',
  ]) {
    invalid(
      `an unknown member ${JSON.stringify(member)}`,
      `${JSON.stringify(VALID).slice(0, -1)},${JSON.stringify(member)}:{"polluted":true}}`,
    );
  }
  invalid(
    '__proto__ inside a line',
    JSON.stringify(VALID).replace('"quantity":1}', '"quantity":1,"__proto__":{"isAdmin":true}}'),
  );
  invalid('a duplicate member overriding the cart', `${JSON.stringify(VALID).slice(0, -1)},"items":[]}`);

  // Encodings and sizes.
  invalid('base64 bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64'), {
    isBase64Encoded: true,
  });
  invalid('base64 of a JSON array', Buffer.from('[]').toString('base64'), { isBase64Encoded: true });
  for (const size of [64 * 1024 + 1, 100_000, 1_000_000]) {
    cases.push({
      name: `a body of ${size} bytes`,
      body: JSON.stringify({ ...VALID, padding: 'x'.repeat(size) }),
      code: 'PAYLOAD_TOO_LARGE',
    });
  }
  cases.push({
    name: 'a large body of many lines',
    body: JSON.stringify({
      ...VALID,
      items: Array.from({ length: 5000 }, () => ({ sku: 'SWEEP-1', quantity: 1 })),
    }),
    code: 'PAYLOAD_TOO_LARGE',
  });

  // Headers.
  for (const contentType of [
    'text/plain',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    'application/json; charset=latin1',
    'json',
    '',
  ]) {
    cases.push({
      name: `Content-Type ${JSON.stringify(contentType)}`,
      body: JSON.stringify(VALID),
      headers: { 'Content-Type': contentType },
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
  }
  for (const [name, key] of [
    ['missing', null],
    ['empty', ''],
    ['256 characters', 'k'.repeat(256)],
    ['10000 characters', 'k'.repeat(10_000)],
    ['non-ASCII', 'schlüssel'],
    ['a lone surrogate', 'key-\ud800'],
    ['NUL', 'key\u0000'],
    ['a newline', 'key\nline'],
    ['a tab', 'key\tkey'],
    ['DEL', 'key\u007f'],
    ['emoji', '🔑'],
  ] as const) {
    cases.push({ name: `Idempotency-Key ${name}`, body: VALID, key, code: 'IDEMPOTENCY_KEY_REQUIRED' });
  }
  for (const [name, customerId] of [
    ['no claims', null],
    ['an empty sub', ''],
    ['a sub with a NUL', 'abc\u0000'],
    ['a sub of 129 characters', 'c'.repeat(129)],
    ['a sub with a lone surrogate', 'abc\ud800'],
  ] as const) {
    cases.push({ name: `identity: ${name}`, body: VALID, customerId, code: 'UNAUTHORIZED' });
  }
  return cases;
}

const CASES = generateCases();

describe('malformed-input sweep of POST /v1/checkout', () => {
  let db: TestDatabase;
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let saga: RecordingSagaStarter;
  let handler: ApiGatewayHandler;
  let countsBefore: Record<string, number>;

  beforeAll(async () => {
    db = await createTestDatabase();
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createIdempotencyTable(client, TABLE);
    await seedProducts(db.sql, { 'SWEEP-1': { onHand: 1000 } });
    await seedWallet(db.sql, CUSTOMER, 1_000_000);
    saga = new RecordingSagaStarter();
    handler = createCheckoutHandler(
      {
        orders: new OrderStore(db.sql),
        sagaStarter: saga,
        sagaStartBuffer: new RecordingSagaStartBuffer(),
        idempotency: createCheckoutIdempotency({ client, tableName: TABLE }),
      },
      { metrics: quietMetrics(), checkoutMetrics: new RecordingCheckoutMetrics() },
    );
    countsBefore = await writeCounts(db.sql);
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
    await db?.drop();
  });

  test('generates at least 300 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(300);
  });

  test.each(
    CASES.map((c) => [c.name, c] as const),
  )('%s is refused with a 4xx problem', async (_, sweepCase) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ...sweepCase.headers };
    if (sweepCase.key !== null) headers['Idempotency-Key'] = sweepCase.key ?? randomUUID();
    const customerId = sweepCase.customerId === undefined ? CUSTOMER : sweepCase.customerId;
    const event = apiEvent({
      method: 'POST',
      resource: '/v1/checkout',
      body: sweepCase.body,
      headers,
      ...(customerId === null ? {} : { customerId }),
      ...(sweepCase.isBase64Encoded ? { isBase64Encoded: true } : {}),
    });

    const result = await invoke(handler, event);

    expect(result.statusCode).toBeGreaterThanOrEqual(400);
    expect(result.statusCode).toBeLessThan(500);
    expect(result.headers['Content-Type']).toBe('application/problem+json');
    expect(result.headers['X-Correlation-Id']).toEqual(expect.any(String));
    expect(result.json).toMatchObject({ code: sweepCase.code, status: result.statusCode });
    expect(result.statusCode).toBe(PROBLEMS[sweepCase.code as keyof typeof PROBLEMS].status);
    expect(Buffer.byteLength(result.body)).toBeLessThan(16 * 1024);
    if (sweepCase.code === 'VALIDATION_FAILED') {
      expect((result.json.errors as unknown[]).length).toBeGreaterThan(0);
    }
  });

  test('no case wrote a row, stored an idempotency record or started a saga', async () => {
    expect(await writeCounts(db.sql)).toEqual(countsBefore);
    expect(await scanTable(client, TABLE)).toEqual([]);
    expect(saga.starts).toEqual([]);
  });
});
