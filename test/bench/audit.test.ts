import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  auditDlqAgainstTable,
  auditSettledSystem,
  type BenchAuditInput,
  type InvariantReport,
} from '../../bench/lib/audit.js';
import {
  auditHealthyCardOrders,
  type PaymentLedgerEntry,
  PROVIDER_UNAVAILABLE,
} from '../../bench/lib/invariants.js';
import type { BenchResults } from '../../bench/lib/results.js';
import { OrderStore } from '../../src/db/orders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput, seedProducts, seedWallet } from '../support/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A settled system with one confirmed card order and one declined one, and the provider's ledger of it. */
interface World {
  readonly db: TestDatabase;
  readonly orders: OrderStore;
  readonly ledger: PaymentLedgerEntry[];
  readonly initialStock: Record<string, number>;
  readonly confirmedOrderId: string;
  readonly authorizationId: string;
}

async function settledWorld(db: TestDatabase): Promise<World> {
  const initialStock = { 'SKU-A': 10, 'SKU-B': 5 };
  await seedProducts(db.sql, { 'SKU-A': { onHand: 10, priceCents: 1500 }, 'SKU-B': { onHand: 5 } });
  await seedWallet(db.sql, 'alice', 5000);
  const orders = new OrderStore(db.sql);

  const confirmed = orderInput({
    customerId: 'alice',
    storeCreditCents: 500,
    items: [
      { sku: 'SKU-A', quantity: 2 },
      { sku: 'SKU-B', quantity: 1 },
    ],
  });
  expect((await orders.placeOrder(confirmed)).outcome).toBe('PLACED');
  const authorizationId = `auth_${randomUUID()}`;
  await orders.markAuthorized(confirmed.orderId, authorizationId, 'c');
  await orders.markCaptured(confirmed.orderId, `cap_${randomUUID()}`, 'c');
  await orders.confirm(confirmed.orderId, 'c');

  const declined = orderInput({
    customerId: 'alice',
    storeCreditCents: 300,
    paymentMethod: 'pm_card_declined',
    items: [{ sku: 'SKU-A', quantity: 1 }],
  });
  expect((await orders.placeOrder(declined)).outcome).toBe('PLACED');
  await orders.recordPaymentOutcome(declined.orderId, 'DECLINED', 'c');
  await orders.releaseReservations(declined.orderId, 'c');
  await orders.refundStoreCredit(declined.orderId, 'c');
  await orders.cancel(declined.orderId, 'PAYMENT_DECLINED', 'c');

  const charge = 2 * 1500 + 1000 - 500;
  const entry = (
    e: Omit<PaymentLedgerEntry, 'outcome'> & Partial<PaymentLedgerEntry>,
  ): PaymentLedgerEntry => ({
    outcome: 'succeeded',
    ...e,
  });
  const ledger = [
    entry({ operation: 'authorize', orderId: confirmed.orderId, authorizationId, amountCents: charge }),
    entry({ operation: 'capture', orderId: confirmed.orderId, authorizationId, amountCents: charge }),
    entry({
      operation: 'authorize',
      orderId: declined.orderId,
      authorizationId: null,
      amountCents: 1500 - 300,
      outcome: 'declined',
    }),
  ];
  return { db, orders, ledger, initialStock, confirmedOrderId: confirmed.orderId, authorizationId };
}

const HEALTHY =
  'no healthy card order (pm_card_visa, never failed by the provider) is cancelled by an infrastructure fault';

const NET_CHARGE =
  'captures minus refunds equal the charge of a confirmed order, and zero for any other order';

/** Ledger entries of one authorization: `at('capture')` is its succeeded capture. */
const ledgerOf =
  (orderId: string, authorizationId: string, amountCents: number) =>
  (
    operation: PaymentLedgerEntry['operation'],
    outcome: PaymentLedgerEntry['outcome'] = 'succeeded',
  ): PaymentLedgerEntry => ({ operation, orderId, authorizationId, amountCents, outcome });

const violationsByName = (reports: readonly InvariantReport[]) =>
  Object.fromEntries(reports.map((report) => [report.name, report.violations]));

describe('the bench invariant audit', () => {
  let world: World;

  beforeEach(async () => {
    world = await settledWorld(await createTestDatabase());
  });
  afterEach(async () => {
    await world?.db.drop();
  });

  const audit = (input: Partial<BenchAuditInput> = {}) =>
    auditSettledSystem({
      sql: world.db.sql,
      ledger: world.ledger,
      initialStock: world.initialStock,
      ...input,
    });

  test('passes a settled system with real orders, and checks every invariant it names', async () => {
    const dlq = await auditDlqAgainstTable(world.db.sql, []);

    const reports = await audit({ earlier: [dlq] });

    expect(reports.filter((r) => r.violations > 0)).toEqual([]);
    expect(reports.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'inventory.reserved equals the held reservations',
        'wallet balance equals its ledger and is never negative',
        'no oversell: initial stock = on hand + sold',
        'no authorization is captured twice',
        'every authorization ends captured or voided',
        'the system settled: no order left PENDING, AUTHORIZED or REQUIRES_ATTENTION',
        'every failed compensation is resolved after the DLQ redrive',
        'every order that required attention has its failed compensation on record',
        'every failed compensation is in the DLQ and in the audit table (before the redrive)',
        'no refund without a capture: refunds never exceed what was captured',
        'a fenced order is never confirmed',
        NET_CHARGE,
      ]),
    );
  });

  /** A card order taken through authorization and cancelled as the saga would, with its ledger. */
  async function cancelledCardOrder(w: World, reason: string) {
    const order = orderInput({ items: [{ sku: 'SKU-A', quantity: 1 }] });
    await w.orders.placeOrder(order);
    const authorizationId = `auth_${randomUUID()}`;
    await w.orders.markAuthorized(order.orderId, authorizationId, 'c');
    await w.orders.releaseReservations(order.orderId, 'c');
    await w.db.sql`update payments set status = 'VOIDED' where order_id = ${order.orderId}`;
    await w.orders.cancel(order.orderId, reason, 'c');
    const at = ledgerOf(order.orderId, authorizationId, 1500);
    return { orderId: order.orderId, authorizationId, at };
  }

  const cases: {
    violation: string;
    invariant: string;
    seed: (w: World) => Promise<Partial<BenchAuditInput>>;
  }[] = [
    {
      violation: 'stock reserved without a reservation',
      invariant: 'inventory.reserved equals the held reservations',
      seed: async (w) => {
        await w.db.sql`update inventory set reserved = reserved + 1 where sku = 'SKU-B'`;
        return {};
      },
    },
    {
      violation: 'stock gone from the shelf without a sale (oversell)',
      invariant: 'no oversell: initial stock = on hand + sold',
      seed: async (w) => {
        await w.db.sql`update inventory set on_hand = on_hand - 1 where sku = 'SKU-A'`;
        return {};
      },
    },
    {
      violation: 'a wallet balance that is not the sum of its ledger',
      invariant: 'wallet balance equals its ledger and is never negative',
      seed: async (w) => {
        await w.db
          .sql`update store_credit_wallets set balance_cents = balance_cents + 100 where customer_id = 'alice'`;
        return {};
      },
    },
    {
      violation: 'a double capture in the provider ledger',
      invariant: 'no authorization is captured twice',
      seed: async (w) => {
        const capture = w.ledger.find((e) => e.operation === 'capture') as PaymentLedgerEntry;
        return { ledger: [...w.ledger, { ...capture }] };
      },
    },
    {
      violation: 'an order confirmed after compensation fenced it',
      invariant: 'a fenced order is never confirmed',
      seed: async (w) => {
        // What a late capture that confirmed past the fence would leave (migrations/0013 refuses it).
        await w.db.sql`update orders set fenced_at = now() where id = ${w.confirmedOrderId}`;
        return {};
      },
    },
    {
      violation: 'an authorization left neither captured nor voided',
      invariant: 'every authorization ends captured or voided',
      seed: async (w) => ({
        ledger: [
          ...w.ledger,
          {
            operation: 'authorize',
            orderId: w.confirmedOrderId,
            authorizationId: `auth_${randomUUID()}`,
            amountCents: 100,
            outcome: 'succeeded',
          },
        ],
      }),
    },
    {
      violation: 'an order left PENDING',
      invariant: 'the system settled: no order left PENDING, AUTHORIZED or REQUIRES_ATTENTION',
      seed: async (w) => {
        await w.orders.placeOrder(orderInput({ items: [{ sku: 'SKU-A', quantity: 1 }] }));
        return {};
      },
    },
    {
      violation: 'an order that required attention with no failed compensation on record',
      invariant: 'every order that required attention has its failed compensation on record',
      seed: async (w) => {
        const order = orderInput({ items: [{ sku: 'SKU-A', quantity: 1 }] });
        await w.orders.placeOrder(order);
        // What a saga that only logged its failed compensation would leave behind.
        await w.db.sql`update orders set status = 'REQUIRES_ATTENTION' where id = ${order.orderId}`;
        await w.db.sql`
          insert into order_events (order_id, type, from_status, to_status)
          values (${order.orderId}, 'ORDER_REQUIRES_ATTENTION', 'PENDING', 'REQUIRES_ATTENTION')
        `;
        return {};
      },
    },
    {
      violation: 'a compensation the worker gave up on that is not in the DLQ',
      invariant: 'every failed compensation is in the DLQ and in the audit table (before the redrive)',
      seed: async (w) => {
        await w.db.sql`
          insert into failed_compensations (compensation_id, order_id, steps, status, attempts)
          values ('comp-lost', ${w.confirmedOrderId}, '["REVERSE_PAYMENT", "CANCEL_ORDER"]', 'FAILED', 5)
        `;
        return { earlier: [await auditDlqAgainstTable(w.db.sql, [])] };
      },
    },
    {
      violation: 'a DLQ message with no failed compensation on record',
      invariant: 'every failed compensation is in the DLQ and in the audit table (before the redrive)',
      seed: async (w) => ({ earlier: [await auditDlqAgainstTable(w.db.sql, ['comp-only-in-the-dlq'])] }),
    },
    {
      violation: 'a confirmed order partly refunded at the provider (charged less than its charge)',
      invariant: NET_CHARGE,
      seed: async (w) => ({
        ledger: [
          ...w.ledger,
          {
            operation: 'refund',
            orderId: w.confirmedOrderId,
            authorizationId: w.authorizationId,
            amountCents: 100,
            outcome: 'succeeded',
          },
        ],
      }),
    },
    {
      violation: 'a cancelled order captured and never refunded',
      invariant: NET_CHARGE,
      seed: async (w) => {
        const cancelled = await cancelledCardOrder(w, 'PAYMENT_CAPTURE_FAILED');
        return {
          ledger: [
            ...w.ledger,
            cancelled.at('authorize'),
            cancelled.at('capture', 'failed'),
            cancelled.at('capture'),
          ],
        };
      },
    },
    {
      violation: 'an order parked in REQUIRES_ATTENTION with its capture never refunded (once settled)',
      invariant: NET_CHARGE,
      seed: async (w) => {
        const order = orderInput({ items: [{ sku: 'SKU-A', quantity: 1 }] });
        await w.orders.placeOrder(order);
        const authorizationId = `auth_${randomUUID()}`;
        await w.orders.markAuthorized(order.orderId, authorizationId, 'c');
        await w.db.sql`update orders set status = 'REQUIRES_ATTENTION' where id = ${order.orderId}`;
        const entry = ledgerOf(order.orderId, authorizationId, 1500);
        return { ledger: [...w.ledger, entry('authorize'), entry('capture')] };
      },
    },
    {
      violation: 'a capture at the provider for an order the database does not know',
      invariant: NET_CHARGE,
      seed: async (w) => {
        const entry = ledgerOf(randomUUID(), `auth_${randomUUID()}`, 700);
        return { ledger: [...w.ledger, entry('authorize'), entry('capture')] };
      },
    },
    {
      violation: 'a refund of an authorization that was never captured',
      invariant: 'no refund without a capture: refunds never exceed what was captured',
      seed: async (w) => {
        const cancelled = await cancelledCardOrder(w, 'PAYMENT_CAPTURE_FAILED');
        return {
          ledger: [
            ...w.ledger,
            cancelled.at('authorize'),
            cancelled.at('capture', 'failed'),
            cancelled.at('void'),
            cancelled.at('refund'),
          ],
        };
      },
    },
    {
      violation: 'a healthy pm_card_visa order the provider never failed, cancelled anyway',
      invariant: HEALTHY,
      seed: async (w) => {
        const cancelled = await cancelledCardOrder(w, 'PAYMENT_CAPTURE_FAILED');
        // The provider authorized it and voided it when asked: nothing there explains the cancel.
        const ledger = [...w.ledger, cancelled.at('authorize'), cancelled.at('void')];
        return { ledger, earlier: [await auditHealthyCardOrders(w.db.sql, ledger)] };
      },
    },
  ];

  test('a pm_card_visa order cancelled after the provider failed it is not counted as healthy', async () => {
    const cancelled = await cancelledCardOrder(world, 'PAYMENT_CAPTURE_FAILED');

    const ledger = [
      ...world.ledger,
      cancelled.at('authorize'),
      cancelled.at('capture', 'failed'),
      cancelled.at('void'),
    ];
    const reports = await audit({ ledger, earlier: [await auditHealthyCardOrders(world.db.sql, ledger)] });

    expect(reports.filter((r) => r.violations > 0)).toEqual([]);
    expect(violationsByName(reports)[HEALTHY]).toBe(0);
  });

  test('a pm_card_visa order the open breaker kept from the provider is not counted as healthy', async () => {
    const cancelled = await cancelledCardOrder(world, PROVIDER_UNAVAILABLE);
    // Authorized and voided; its captures never reached the provider (the breaker refused them).
    const ledger = [...world.ledger, cancelled.at('authorize'), cancelled.at('void')];

    const report = await auditHealthyCardOrders(world.db.sql, ledger);

    expect(report.violations).toBe(0);
  });

  test('healthy card orders are counted only among the orders of the fault run when given', async () => {
    const cancelled = await cancelledCardOrder(world, 'PAYMENT_CAPTURE_FAILED');
    const ledger = [...world.ledger, cancelled.at('authorize'), cancelled.at('void')];

    const all = await auditHealthyCardOrders(world.db.sql, ledger);
    const others = await auditHealthyCardOrders(world.db.sql, ledger, [world.confirmedOrderId]);

    expect(all.violations).toBe(1);
    expect(others.violations).toBe(0);
  });

  test.each(cases)('catches $violation', async ({ seed, invariant }) => {
    const input = await seed(world);

    const reports = await audit(input);

    expect(violationsByName(reports)[invariant]).toBe(1);
  });
});

describe('npm run bench -- --quick', () => {
  test(
    'runs every scenario end to end against its own stack and passes the audit',
    { timeout: 320_000 },
    async () => {
      const out = await mkdtemp(path.join(tmpdir(), 'bench-quick-'));
      try {
        const { code, stdout, stderr } = await new Promise<{
          code: number | null;
          stdout: string;
          stderr: string;
        }>((resolve) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out],
            { cwd: ROOT, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
            (error, stdout, stderr) =>
              resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });

        expect(code, `${stdout}\n${stderr.slice(-4000)}`).toBe(0);
        const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as BenchResults;
        expect(Object.keys(results.scenarios).sort()).toEqual(
          [
            'bundles',
            'chaos',
            'cost',
            'hotSku',
            'loadProfile',
            'physicalLimit',
            'roundTrips',
            'spread',
          ].sort(),
        );
        // The stand-ins counted a happy checkout: one API request, its transitions, tasks and events.
        const happy = results.scenarios.cost.happy;
        expect(happy.usage).toMatchObject({ apiRequests: 1, dynamodbWrites: 2, events: 2 });
        expect(happy.usage.stateTransitions).toBeGreaterThan(0);
        expect(happy.usage.sagaTaskInvocations).toBeGreaterThan(0);
        expect(happy.standard.totalPerMillionCheckouts).toBeGreaterThan(0);
        // PostgreSQL's side decomposed by statement, and the handlers' own CPU per function.
        expect(happy.database?.statementStatistics).toBe(true);
        expect(happy.database?.roundTripsPerCheckout).toBeGreaterThanOrEqual(5);
        expect(happy.usage.handlerCpuMs).toBeGreaterThan(0);
        expect(results.scenarios.hotSku.accepted).toBe(results.scenarios.hotSku.stock);
        expect(results.scenarios.roundTrips.carts.map((c) => c.cartLines)).toEqual([1, 10, 50]);
        expect(results.scenarios.bundles.bundles.length).toBeGreaterThan(10);
        expect(results.scenarios.chaos.settled).toBe(true);
        const { loadProfile } = results.scenarios;
        expect(loadProfile.ramp.map((phase) => phase.label)).toEqual([
          '10 clients',
          '50 clients',
          '100 clients',
        ]);
        expect(loadProfile.constantRate.requests).toBeGreaterThan(0);
        expect(loadProfile.unconfirmed).toBe(0);
        expect(results.audit).toMatchObject({ violations: 0, passed: true });
        // Every invariant is printed with its count.
        for (const report of results.audit.reports) expect(stdout).toContain(report.name);
        const summary = await readFile(path.join(out, 'summary.md'), 'utf8');
        expect(summary).toContain('## 7. Cost per checkout');
        expect(summary).toContain('## 8. Load profile');
        expect(summary).toContain('### PostgreSQL per settled happy card checkout');
        expect(await readFile(path.join(out, 'latency.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    },
  );
});
