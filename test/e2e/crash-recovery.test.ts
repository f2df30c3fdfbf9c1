import { afterAll, expect, test } from 'vitest';
import {
  auditDatabase,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../bench/lib/invariants.js';
import { createSql } from '../../src/db/client.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

let stack: StackProcess | undefined;

afterAll(async () => {
  stack?.kill('SIGINT');
  await stack?.exited;
});

test('SIGKILL with sagas in flight: after a restart on the same data every order settles and the invariants hold', async () => {
  const ports = await freeStackPorts();
  const dataDir = await newDataDir();
  stack = await spawnStack({ ports, dataDir });
  const api = stack.apiUrl;
  // A slow provider keeps the sagas in flight when the stack is killed.
  await fetch(`${stack.providerUrl}/control/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ latencyMs: 300 }),
  });
  const methods = [
    'pm_card_visa',
    'pm_card_declined',
    'pm_card_flaky',
    'pm_capture_fails',
    'pm_auth_timeout',
  ];
  const placed = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const response = await fetch(`${api}/v1/checkout`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer dev-crash-${i}`,
          'Idempotency-Key': `crash-${i}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({
          items: [{ sku: 'SKU-1', quantity: 1 }],
          currency: 'USD',
          paymentMethod: methods[i % methods.length],
          storeCreditCents: 0,
        }),
      });
      return response.status;
    }),
  );
  expect(placed.every((status) => status === 202)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 400));

  stack.kill('SIGKILL');
  await stack.exited;
  stack = await spawnStack({ ports, dataDir });
  await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });

  const sql = createSql(`postgres://postgres:postgres@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/postgres`, {
    max: 1,
  });
  const deadline = Date.now() + 60_000;
  let inFlight = Number.POSITIVE_INFINITY;
  while (Date.now() < deadline) {
    // Settled: no saga in flight and no compensation still being retried by the worker.
    const [row] = await sql<{ count: string }[]>`
      select (select count(*) from orders where status in ('PENDING', 'AUTHORIZED'))
           + (select count(*) from failed_compensations where status in ('PENDING', 'RETRYING')) as count
    `;
    inFlight = Number(row?.count ?? 0);
    if (inFlight === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const statuses = await sql<{ status: string; count: number }[]>`
    select status, count(*)::int as count from orders group by status order by status
  `;
  const { entries } = (await (await fetch(`${stack.providerUrl}/ledger`)).json()) as {
    entries: PaymentLedgerEntry[];
  };
  const reports = [
    ...(await auditDatabase(sql, { initialStock: { 'SKU-1': 100 } })),
    ...(await auditPayments(sql, entries)),
  ];
  await sql.end();

  expect(inFlight).toBe(0);
  expect(statuses.reduce((sum, row) => sum + row.count, 0)).toBe(30);
  expect(statuses.every((row) => ['CONFIRMED', 'CANCELLED', 'REQUIRES_ATTENTION'].includes(row.status))).toBe(
    true,
  );
  expect(violationsOf(reports)).toEqual([]);
  // Two starts of the stack and a bounded settle wait: the file's own bound, not the default test time.
}, 240_000);
