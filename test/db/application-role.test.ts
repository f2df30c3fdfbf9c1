import { randomUUID } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderHistoryStore } from '../../src/db/order-history.js';
import { OrderStore } from '../../src/db/orders.js';
import { OutboxStore } from '../../src/db/outbox.js';
import { RecoveryStore } from '../../src/db/recovery.js';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { WalletStore } from '../../src/db/wallets.js';
import { sweepStuckOrders } from '../../src/ops/sweeper.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput } from '../support/fixtures.js';

/**
 * Migration 0008's application role on real PostgreSQL: the functions connect as it, so it must
 * be able to do everything the service does, and nothing that bypasses the order functions.
 */
describe(`the application role ${APPLICATION_ROLE}`, () => {
  let db: TestDatabase;
  let app: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await db.applicationSql();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function sqlstateOf(query: Promise<unknown>): Promise<string | undefined> {
    try {
      await query;
      return undefined;
    } catch (error) {
      if (error instanceof postgres.PostgresError) return error.code;
      throw error;
    }
  }

  const INSUFFICIENT_PRIVILEGE = '42501';

  test('connects as itself, not as the owner that ran the migrations', async () => {
    const [row] = await app<{ user: string; superuser: string }[]>`
      select current_user as user, current_setting('is_superuser') as superuser
    `;
    expect(row).toEqual({ user: APPLICATION_ROLE, superuser: 'off' });
  });

  test.each([
    ['create a table', 'create table intruder (id int)'],
    ['create a temporary table', 'create temporary table intruder (id int)'],
    ['alter a table', 'alter table orders add column intruder int'],
    ['drop a table', 'drop table order_events'],
    ['create a function', 'create function intruder() returns int language sql as $$ select 1 $$'],
    [
      'replace an order function',
      'create or replace function order_snapshot(p_order_id uuid) returns jsonb language sql as $$ select null::jsonb $$',
    ],
    ['truncate the audit trail', 'truncate order_events'],
  ])('cannot run DDL: %s', async (_, statement) => {
    const code = await sqlstateOf(app.unsafe(statement));
    expect(code).toBe(INSUFFICIENT_PRIVILEGE);
  });

  test.each([
    ['release reserved stock', "update inventory set reserved = 0 where sku = 'ROLE-1'"],
    ['confirm an order', "update orders set status = 'CONFIRMED'"],
    [
      'invent an order',
      `insert into orders (id, customer_id, currency, total_cents, payment_method) values ('${randomUUID()}', 'x', 'USD', 0, 'pm')`,
    ],
    ['credit a wallet', 'update store_credit_wallets set balance_cents = balance_cents + 100000'],
    [
      'create a wallet',
      "insert into store_credit_wallets (customer_id, balance_cents) values ('thief', 100000)",
    ],
    [
      'write the wallet ledger',
      "insert into wallet_transactions (customer_id, amount_cents, kind) values ('thief', 100000, 'ADJUSTMENT')",
    ],
    ['change a payment', "update payments set status = 'CAPTURED'"],
    ['read the payments', 'select * from payments'],
    ['delete order events', 'delete from order_events'],
    [
      'hold stock without an order',
      "insert into reservations (order_id, sku, quantity) values (gen_random_uuid(), 'ROLE-1', 1)",
    ],
    ['resolve a compensation by deleting it', 'delete from failed_compensations'],
    [
      'call an internal helper',
      `select set_order_status('${randomUUID()}'::uuid, 'PENDING', 'CONFIRMED', 'ORDER_CONFIRMED', '{}', 'x')`,
    ],
    [
      'enqueue an outbox event',
      `select enqueue_outbox_event('${randomUUID()}'::uuid, 'order.confirmed', 'x')`,
    ],
    ['read the migration history', 'select * from schema_migrations'],
  ])('cannot bypass the order functions: %s', async (_, statement) => {
    const code = await sqlstateOf(app.unsafe(statement));
    expect(code).toBe(INSUFFICIENT_PRIVILEGE);
  });

  test("every function runs with its owner's rights, a fixed search path and generic plans, in PL/pgSQL so its plans are kept", async () => {
    // A SQL-language function with a SET clause is never inlined and is planned again on every call;
    // a PL/pgSQL statement under the default plan_cache_mode may be too (migrations/0012).
    const functions = await db.sql<
      { name: string; language: string; definer: boolean; config: string[] | null }[]
    >`
      select p.proname as name, l.lanname as language, p.prosecdef as definer, p.proconfig as config
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      join pg_language l on l.oid = p.prolang
      where n.nspname = 'public'
        and p.prokind = 'f'
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      order by p.proname
    `;
    expect(functions.length).toBeGreaterThan(10);
    for (const fn of functions) {
      expect({ name: fn.name, language: fn.language }).toEqual({ name: fn.name, language: 'plpgsql' });
      if (fn.name !== 'forbid_mutation') {
        expect({ name: fn.name, definer: fn.definer, config: fn.config }).toEqual({
          name: fn.name,
          definer: true,
          config: ['search_path=public, pg_temp', 'plan_cache_mode=force_generic_plan'],
        });
      }
    }
  });

  test('no function of the schema is executable by PUBLIC: only the roles a migration grants it to may call it', async () => {
    // PostgreSQL grants EXECUTE to PUBLIC on every new function; 0015's three functions kept that
    // grant until 0016 took it away.
    const open = await db.sql<{ name: string }[]>`
      select p.proname as name
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public'
        and p.prokind = 'f'
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        and (
          p.proacl is null
          or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE')
        )
      order by p.proname
    `;
    expect(open.map((row) => row.name)).toEqual([]);
  });

  test('a function the owner adds later is not executable by the role until a grant says so', async () => {
    const name = `later_function_${randomUUID().replace(/-/g, '')}`;
    await db.sql.unsafe(
      `create function ${name}() returns int language plpgsql as $$ begin return 1; end $$`,
    );
    try {
      const code = await sqlstateOf(app.unsafe(`select ${name}()`));
      expect(code).toBe(INSUFFICIENT_PRIVILEGE);
    } finally {
      await db.sql.unsafe(`drop function ${name}()`);
    }
  });

  test('has the role-level timeouts; the owner has none', async () => {
    const setting = async (sql: Sql) =>
      (
        await sql<{ statement_timeout: string; lock_timeout: string }[]>`
        select current_setting('statement_timeout') as statement_timeout, current_setting('lock_timeout') as lock_timeout
      `
      )[0];
    expect(await setting(app)).toEqual({ statement_timeout: '5s', lock_timeout: '2s' });
    expect(await setting(db.sql)).toEqual({ statement_timeout: '0', lock_timeout: '0' });
  });

  test('does everything the service does: admin, checkout, saga, compensation, sweeper and outbox relay', async () => {
    // prepare: every store over the application role's pool, as in the functions.
    const catalog = new CatalogStore(app);
    const wallets = new WalletStore(app);
    const orders = new OrderStore(app);
    const compensations = new CompensationStore(app);
    const outbox = new OutboxStore(app);

    // act and assess: the admin API.
    expect(
      await catalog.upsertProduct('ROLE-1', { name: 'Role', priceCents: 500, currency: 'USD', onHand: 10 }),
    ).toMatchObject({ onHand: 10 });
    expect(
      await catalog.upsertProduct('ROLE-1', { name: 'Role 2', priceCents: 600, currency: 'USD', onHand: 20 }),
    ).toMatchObject({ name: 'Role 2', onHand: 20 });
    expect(await catalog.getProduct('ROLE-1')).toMatchObject({ available: 20 });
    await wallets.setBalance('role-customer', 5000);
    expect(await wallets.getWallet('role-customer')).toMatchObject({ balanceCents: 5000 });

    // Checkout and a full saga to CONFIRMED.
    const confirmed = orderInput({
      customerId: 'role-customer',
      items: [{ sku: 'ROLE-1', quantity: 2 }],
      storeCreditCents: 200,
    });
    expect((await orders.placeOrder(confirmed)).outcome).toBe('PLACED');
    expect(await orders.getOrder(confirmed.orderId)).toMatchObject({ status: 'PENDING' });
    await orders.markAuthorized(confirmed.orderId, 'auth-1', 'corr');
    await orders.markCaptured(confirmed.orderId, 'cap-1', 'corr');
    expect(await orders.confirm(confirmed.orderId, 'corr')).toEqual({ changed: true, status: 'CONFIRMED' });

    // A declined payment, compensated to CANCELLED.
    const declined = orderInput({
      customerId: 'role-customer',
      items: [{ sku: 'ROLE-1', quantity: 1 }],
      storeCreditCents: 100,
    });
    await orders.placeOrder(declined);
    await orders.recordPaymentOutcome(declined.orderId, 'DECLINED', 'corr');
    await orders.releaseReservations(declined.orderId, 'corr');
    await orders.refundStoreCredit(declined.orderId, 'corr');
    expect(await orders.cancel(declined.orderId, 'PAYMENT_DECLINED', 'corr')).toEqual({
      changed: true,
      status: 'CANCELLED',
    });

    // A failed compensation, parked, retried by the worker and resolved.
    const parked = orderInput({ customerId: 'role-customer', items: [{ sku: 'ROLE-1', quantity: 1 }] });
    await orders.placeOrder(parked);
    const compensationId = randomUUID();
    await orders.markRequiresAttention({
      orderId: parked.orderId,
      compensationId,
      steps: ['RELEASE_RESERVATIONS'],
      error: 'States.Timeout',
      cancellationReason: 'PAYMENT_FAILED',
      correlationId: 'corr',
    });
    expect(await compensations.recordAttempt(compensationId)).toMatchObject({
      status: 'RETRYING',
      attempts: 1,
    });
    await compensations.recordFailure(compensationId, {
      error: 'still failing',
      final: false,
      providerState: { orderId: parked.orderId, authorizations: [] },
    });
    await orders.releaseReservations(parked.orderId, 'corr');
    await compensations.markResolved(compensationId);
    expect(await compensations.get(compensationId)).toMatchObject({
      status: 'RESOLVED',
      providerState: { orderId: parked.orderId, authorizations: [] },
    });
    expect((await compensations.list({ status: 'RESOLVED' })).map((c) => c.compensationId)).toContain(
      compensationId,
    );

    // The operators' views: an order's timeline and compensation, and a compensation queued again.
    expect((await new OrderHistoryStore(app).events(parked.orderId)).length).toBeGreaterThan(0);
    expect(await compensations.findByOrder(parked.orderId)).toMatchObject({ compensationId });
    await compensations.recordFailure(compensationId, { error: 'x', final: true, providerState: null });
    expect(
      await compensations.markRequeued(compensationId, {
        requestedBy: 'arn:operator',
        correlationId: 'corr',
      }),
    ).toEqual({ outcome: 'RESOLVED', status: 'RESOLVED' });
    expect(await new OrderHistoryStore(app).holdings(parked.orderId)).toMatchObject({ reservedItems: [] });
    expect((await compensations.list({ status: 'RESOLVED', customerId: 'role-customer' }))[0]).toMatchObject({
      compensationId,
      customerId: 'role-customer',
    });

    // The sweeper claims a stuck order (its execution still running: left alone).
    const stuck = orderInput({ customerId: 'role-customer', items: [{ sku: 'ROLE-1', quantity: 1 }] });
    await orders.placeOrder(stuck);
    const report = await sweepStuckOrders(
      {
        recovery: new RecoveryStore(app),
        orders,
        saga: undefined as never,
        starter: { start: async () => {} } as never,
        inspector: { executionState: async () => 'RUNNING' } as never,
        compensationQueue: { send: async () => {} } as never,
      },
      { stuckAfterSeconds: 0 },
    );
    expect(report.claimed).toBeGreaterThanOrEqual(1);

    // The outbox relay claims, fails and publishes the events the transitions wrote.
    const claimed = await outbox.claim(100, 30);
    expect(claimed.length).toBeGreaterThan(0);
    const [first, ...rest] = claimed.map((event) => event.id);
    expect(await outbox.markFailed([{ id: first as string, error: 'bus down', delayMs: 0 }])).toBe(1);
    expect(await outbox.markPublished(rest)).toBe(rest.length);
    expect((await outbox.backlog()).unpublished).toBeGreaterThanOrEqual(1);
  });
});
