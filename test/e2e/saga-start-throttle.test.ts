import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  auditDatabase,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../bench/lib/invariants.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { type LocalStackState, STATE_FILE } from '../../local/stack-state.js';
import type { UsageSnapshot } from '../../local/usage.js';
import { orderIdFor } from '../../src/checkout/place-order.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { executionArn } from '../../src/saga/step-functions-starter.js';
import {
  freeStackPorts,
  newDataDir,
  type StackPorts,
  type StackProcess,
  spawnStack,
} from '../support/local-stack-process.js';

/**
 * Acceptance of docs/adr/0019 on the local stack: StartExecution held to a tiny quota (a bucket of
 * 4, refilled at 2 a second), 40 checkouts at concurrency 10. Every checkout is answered 202, the
 * throttled starts go through the saga-start queue, and every order ends CONFIRMED with one execution.
 */
const RATE = 2;
const BURST = 4;
const ORDERS = 40;
const CONCURRENCY = 10;
const SKU = 'THROTTLE-1';

describe('checkout under a throttled StartExecution', () => {
  let ports: StackPorts;
  let stack: StackProcess;
  let state: LocalStackState;
  let sql: Sql;

  beforeAll(async () => {
    ports = await freeStackPorts();
    const dataDir = await newDataDir();
    stack = await spawnStack({
      ports,
      dataDir,
      env: { LOCAL_SFN_START_RATE: String(RATE), LOCAL_SFN_START_BURST: String(BURST) },
    });
    state = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as LocalStackState;
    sql = createSql(`postgres://postgres:postgres@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/postgres`, {
      max: 1,
    });
  });
  afterAll(async () => {
    await sql?.end();
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  const customerOf = (i: number) => `throttled-${i}`;
  const keyOf = (i: number) => `throttled-key-${i}`;

  async function checkout(i: number) {
    const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer dev-${customerOf(i)}`,
        'Idempotency-Key': keyOf(i),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku: SKU, quantity: 1 }],
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        storeCreditCents: 0,
      }),
    });
    return {
      status: response.status,
      body: await response.text(),
      headers: response.headers,
      at: Date.now(),
    };
  }

  async function usage(): Promise<UsageSnapshot> {
    return (await (await fetch(`${stack.apiUrl}/_local/usage`)).json()) as UsageSnapshot;
  }

  test('40 checkouts at concurrency 10 through a StartExecution quota of 2/s (burst 4): 40 × 202, every order CONFIRMED, the starts spread by the quota', async () => {
    const put = await fetch(`${stack.apiUrl}/v1/admin/products/${SKU}`, {
      method: 'PUT',
      headers: { Authorization: 'Bearer admin', 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Throttle test', priceCents: 500, currency: 'USD', onHand: 100 }),
    });
    expect(put.status).toBe(200);

    const answers: Awaited<ReturnType<typeof checkout>>[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ORDERS) {
          const i = next++;
          answers[i] = await checkout(i);
        }
      }),
    );
    const orderIds = answers.map((_, i) => orderIdFor(customerOf(i), keyOf(i)));

    expect(answers.map((answer) => answer.status)).toEqual(Array(ORDERS).fill(202));

    // Settled: every order CONFIRMED (a bounded wait; the quota alone needs (40 - 4) / 2 s).
    const deadline = Date.now() + 120_000;
    let confirmed = 0;
    while (Date.now() < deadline) {
      const [row] = await sql<{ count: number }[]>`
        select count(*)::int as count from orders where id = any(${orderIds}::uuid[]) and status = 'CONFIRMED'
      `;
      confirmed = row?.count ?? 0;
      if (confirmed === ORDERS) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(confirmed).toBe(ORDERS);

    // What the stack recorded: one execution per order, when each started.
    const sfn = new SFNClient({
      endpoint: state.stepFunctionsEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const executions = await Promise.all(
      orderIds.map((orderId) =>
        sfn.send(
          new DescribeExecutionCommand({ executionArn: executionArn(state.stateMachineArn, orderId) }),
        ),
      ),
    );
    sfn.destroy();
    expect(executions.map((execution) => execution.status)).toEqual(Array(ORDERS).fill('SUCCEEDED'));
    const started = executions.map((execution) => (execution.startDate as Date).getTime());
    // A bucket of 4 refilled at 2 a second lets 40 starts through in no less than (40 - 4) / 2 s.
    const spreadSeconds = (Math.max(...started) - Math.min(...started)) / 1000;
    expect(spreadSeconds).toBeGreaterThanOrEqual((ORDERS - BURST) / RATE - 1);
    // Some executions started only after their checkout had been answered: through the queue.
    const startedAfterAnswer = orderIds.filter((_, i) => (started[i] as number) > (answers[i]?.at as number));
    expect(startedAfterAnswer.length).toBeGreaterThan(0);

    const { counts, lambda } = await usage();
    expect(counts['stepFunctions.startExecutionThrottled'] ?? 0).toBeGreaterThan(0);
    expect(lambda['checkout-SagaStarter']?.invocations ?? 0).toBeGreaterThan(0);

    // A buffered order's key replays its 202, byte for byte, and starts nothing new.
    const buffered = orderIds.indexOf(startedAfterAnswer[0] as string);
    const replay = await checkout(buffered);
    expect(replay.status).toBe(202);
    expect(replay.body).toBe(answers[buffered]?.body);
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');

    const { entries } = (await (await fetch(`${stack.providerUrl}/ledger`)).json()) as {
      entries: PaymentLedgerEntry[];
    };
    const authorizations = entries.filter((entry) => entry.operation === 'authorize');
    expect(new Set(authorizations.map((entry) => entry.orderId)).size).toBe(ORDERS);
    expect(authorizations).toHaveLength(ORDERS);
    const reports = [
      ...(await auditDatabase(sql, { initialStock: { [SKU]: 100 } })),
      ...(await auditPayments(sql, entries)),
    ];
    expect(violationsOf(reports)).toEqual([]);
  });
});
