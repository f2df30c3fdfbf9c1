import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  auditDatabase,
  auditHealthyCardOrders,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../bench/lib/invariants.js';
import { findFreePort } from '../../local/ports.js';
import { type RestartablePostgres, startRestartablePostgres } from '../../local/postgres.js';
import { createSql } from '../../src/db/client.js';
import { editedAssembly, environmentOf } from '../support/edited-assembly.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

/** Placed before the first restart; the restart happens once this many sagas are in flight. */
const FIRST_WAVE = 130;
const IN_FLIGHT_AT_RESTART = 100;
/** Placed while PostgreSQL restarts (fast, then immediate). */
const DURING_OUTAGE = 30;
const METHODS = ['pm_card_visa', 'pm_card_visa', 'pm_card_declined', 'pm_capture_fails'] as const;
const SKUS = ['RESTART-A', 'RESTART-B', 'RESTART-C'];
const INITIAL_STOCK = 1000;
const PRICE_CENTS = 1000;

let workDir: string;
let postgres: RestartablePostgres | undefined;
let stack: StackProcess | undefined;
let sql: Sql;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'checkout-restart-pg-'));
  await chmod(workDir, 0o755);
  // The test owns this server (not the shared one of the test run), so it may restart it.
  postgres = await startRestartablePostgres({
    dataDir: path.join(workDir, 'data'),
    port: await findFreePort(),
    // Durable (fsync on): an immediate restart is a crash, and a throw-away cluster with fsync off
    // would lose transactions it had already committed, which no real database does.
    ephemeral: false,
  });
  stack = await spawnStack({
    ports: await freeStackPorts(),
    dataDir: await newDataDir(),
    env: {
      DATABASE_URL: postgres.adminUrl,
      // This test is about the database. A third of its orders are pm_capture_fails, whose captures
      // fail on purpose; they would keep each container's breaker open for the healthy orders (the
      // breaker has tests of its own, test/payments): the functions run with a breaker that never opens.
      LOCAL_CDK_OUT: await editedAssembly((_, resources) => {
        for (const resource of resources) {
          if (resource.Type !== 'AWS::Lambda::Function') continue;
          const environment = environmentOf(resource);
          if (environment?.PAYMENT_PROVIDER_URL) environment.PAYMENT_BREAKER_FAILURE_THRESHOLD = '1000000';
        }
      }),
    },
    readyTimeoutMs: 90_000,
  });
  sql = createSql(postgres.adminUrl, { max: 2 });
});

afterAll(async () => {
  stack?.kill('SIGINT');
  await stack?.exited;
  await sql?.end({ timeout: 5 });
  await postgres?.stop();
  await rm(workDir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly code?: string;
  readonly retryAfter: string | null;
  readonly contentType: string | null;
}

/** One checkout as a well-behaved client sends it: on 503 it waits Retry-After and retries the same key. */
async function checkout(i: number, answers: Answer[]): Promise<string> {
  const method = METHODS[i % METHODS.length] as string;
  // Every third order pays part with store credit.
  const storeCreditCents = i % 3 === 0 ? 300 : 0;
  for (let attempt = 0; attempt < 30; attempt++) {
    const response = await fetch(`${stack?.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer dev-restart-${i % 20}`,
        'Idempotency-Key': `restart-${i}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku: SKUS[i % SKUS.length], quantity: 1 + (i % 2) }],
        currency: 'USD',
        paymentMethod: method,
        storeCreditCents,
      }),
    });
    const body = (await response.json().catch(() => ({}))) as { orderId?: string; code?: string };
    answers.push({
      status: response.status,
      ...(body.code ? { code: body.code } : {}),
      retryAfter: response.headers.get('retry-after'),
      contentType: response.headers.get('content-type'),
    });
    if (response.status === 202 && body.orderId) return body.orderId;
    if (response.status !== 503) throw new Error(`checkout ${i} answered ${response.status} ${body.code}`);
    await new Promise((resolve) =>
      setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000),
    );
  }
  throw new Error(`checkout ${i} never accepted`);
}

async function inFlight(): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from orders where status in ('PENDING', 'AUTHORIZED')
  `;
  return row?.count ?? 0;
}

/** Sends `count` checkouts from `first` on, `concurrency` at a time. */
async function wave(first: number, count: number, concurrency: number, answers: Answer[]): Promise<string[]> {
  const orderIds: string[] = [];
  let next = first;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < first + count) orderIds.push(await checkout(next++, answers));
    }),
  );
  return orderIds;
}

test(
  'PostgreSQL restarted fast and immediate under load: every order settles, money and stock exact, only 202 or 503 answers',
  { timeout: 120_000 },
  async () => {
    const admin = { Authorization: 'Bearer admin', 'Content-Type': 'application/json' };
    for (const sku of SKUS) {
      await fetch(`${stack?.apiUrl}/v1/admin/products/${sku}`, {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify({ name: sku, priceCents: PRICE_CENTS, currency: 'USD', onHand: INITIAL_STOCK }),
      });
    }
    for (let c = 0; c < 20; c++) {
      await fetch(`${stack?.apiUrl}/v1/admin/wallets/restart-${c}`, {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify({ balanceCents: 1_000_000 }),
      });
    }
    // A slow (not failing) provider keeps the sagas in flight across the restarts: slow enough that
    // 100 of them are still running once the first wave is placed, under the provider client's
    // local 2 s timeout.
    await fetch(`${stack?.providerUrl}/control/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ latencyMs: 1200 }),
    });
    const answers: Answer[] = [];
    const outageAnswers: Answer[] = [];

    const firstWave = wave(0, FIRST_WAVE, 40, answers);
    let peak = 0;
    while (peak < IN_FLIGHT_AT_RESTART) {
      peak = Math.max(peak, await inFlight());
      if (answers.length >= FIRST_WAVE && peak < IN_FLIGHT_AT_RESTART) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const duringOutage = wave(FIRST_WAVE, DURING_OUTAGE, 10, outageAnswers);
    await postgres?.restart('fast');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await postgres?.restart('immediate');
    const orderIds = [...(await firstWave), ...(await duringOutage)];
    await fetch(`${stack?.providerUrl}/control/faults`, { method: 'DELETE' });

    const deadline = Date.now() + 60_000;
    let open = Number.POSITIVE_INFINITY;
    while (Date.now() < deadline) {
      const [row] = await sql<{ count: number }[]>`
        select count(*)::int as count from orders where status not in ('CONFIRMED', 'CANCELLED')
      `;
      open = row?.count ?? 0;
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const outcomes = await sql<{ method: string; status: string; reason: string | null; count: number }[]>`
      select payment_method as method, status, cancellation_reason as reason, count(*)::int as count
      from orders
      group by 1, 2, 3
      order by 1, 2, 3
    `;
    // What the lead of an investigation needs when an order did not settle.
    const unsettled = await sql`
      select o.id, o.payment_method, o.status, f.status as compensation, f.attempts, f.last_error
      from orders o
      left join failed_compensations f on f.order_id = o.id
      where o.status not in ('CONFIRMED', 'CANCELLED')
      limit 5
    `;
    const { entries } = (await (await fetch(`${stack?.providerUrl}/ledger`)).json()) as {
      entries: PaymentLedgerEntry[];
    };
    const reports = [
      ...(await auditDatabase(sql, {
        initialStock: Object.fromEntries(SKUS.map((s) => [s, INITIAL_STOCK])),
      })),
      ...(await auditPayments(sql, entries, { settled: true })),
      await auditHealthyCardOrders(sql, entries),
    ];

    expect(peak, 'sagas in flight when PostgreSQL restarted').toBeGreaterThanOrEqual(IN_FLIGHT_AT_RESTART);
    expect(new Set(orderIds).size).toBe(FIRST_WAVE + DURING_OUTAGE);
    // One assertion, so a failure shows every broken promise at once.
    expect({
      unsettled,
      violations: violationsOf(reports),
      visa: outcomes
        .filter((o) => o.method === 'pm_card_visa')
        .map(({ status, reason }) => ({ status, reason })),
      declined: outcomes
        .filter((o) => o.method === 'pm_card_declined')
        .map(({ status, reason }) => ({ status, reason })),
    }).toEqual({
      unsettled: [],
      violations: [],
      // The provider never failed a call: every pm_card_visa order is CONFIRMED, none cancelled by the restarts.
      visa: [{ status: 'CONFIRMED', reason: null }],
      declined: [{ status: 'CANCELLED', reason: 'PAYMENT_DECLINED' }],
    });
    expect(open).toBe(0);
    for (const answer of [...answers, ...outageAnswers]) {
      if (answer.status === 202) continue;
      expect(answer).toEqual({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        retryAfter: expect.stringMatching(/^\d+$/),
        contentType: 'application/problem+json',
      });
    }
    console.log(
      `restart test: ${peak} sagas in flight at the restart; answers ${JSON.stringify(
        tally([...answers, ...outageAnswers].map((a) => `${a.status}${a.code ? ` ${a.code}` : ''}`)),
      )}; outcomes ${JSON.stringify(outcomes)}`,
    );
  },
);

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
