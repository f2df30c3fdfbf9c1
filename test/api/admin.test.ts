import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminHandlers, createAdminHandlers } from '../../lambdas/api/admin.js';
import type { AdminDependencies } from '../../src/api/admin.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderStore } from '../../src/db/orders.js';
import { WalletStore } from '../../src/db/wallets.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { orderInput } from '../support/fixtures.js';
import { createRouteCoverage } from './support/coverage.js';
import { unreachableSql } from './support/environment.js';
import { ADMIN_ARN, apiEvent, type EventOptions, invoke } from './support/events.js';

type Operation = 'putProduct' | 'getProduct' | 'putWallet' | 'getWallet' | 'listCompensations';
const coverage = createRouteCoverage([
  'putProduct',
  'getProduct',
  'putWallet',
  'getWallet',
  'listCompensations',
]);

const ROUTES: Record<Operation, Pick<EventOptions, 'method' | 'resource'>> = {
  putProduct: { method: 'PUT', resource: '/v1/admin/products/{sku}' },
  getProduct: { method: 'GET', resource: '/v1/admin/products/{sku}' },
  putWallet: { method: 'PUT', resource: '/v1/admin/wallets/{customerId}' },
  getWallet: { method: 'GET', resource: '/v1/admin/wallets/{customerId}' },
  listCompensations: { method: 'GET', resource: '/v1/admin/compensations' },
};

/** A valid request of each route, for the checks every admin route shares. */
const VALID: Record<Operation, Partial<EventOptions>> = {
  putProduct: {
    pathParameters: { sku: 'ADMIN-ANY' },
    body: { name: 'Any', priceCents: 100, currency: 'USD', onHand: 1 },
  },
  getProduct: { pathParameters: { sku: 'ADMIN-ANY' } },
  putWallet: { pathParameters: { customerId: 'admin-any' }, body: { balanceCents: 1 } },
  getWallet: { pathParameters: { customerId: 'admin-any' } },
  listCompensations: {},
};

function storesOver(sql: Sql): AdminDependencies {
  return {
    catalog: new CatalogStore(sql),
    wallets: new WalletStore(sql),
    compensations: new CompensationStore(sql),
  };
}

describe('admin routes', () => {
  let db: TestDatabase;
  let handlers: AdminHandlers;

  function call(
    operation: Operation,
    options: Partial<EventOptions> = {},
    identity: { adminArn?: string; customerId?: string } = { adminArn: ADMIN_ARN },
    through: AdminHandlers = handlers,
  ) {
    const event = apiEvent({ ...ROUTES[operation], ...options, ...identity });
    return invoke(through[operation], event).then((result) => coverage.record(operation, result));
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    handlers = createAdminHandlers(storesOver(db.sql));
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('products', () => {
    test('PUT creates a product and GET shows its stock', async () => {
      const put = await call('putProduct', {
        pathParameters: { sku: 'ADMIN-1' },
        body: { name: 'Widget', priceCents: 1999, currency: 'EUR', onHand: 12 },
      });
      const get = await call('getProduct', { pathParameters: { sku: 'ADMIN-1' } });

      const product = {
        sku: 'ADMIN-1',
        name: 'Widget',
        priceCents: 1999,
        currency: 'EUR',
        onHand: 12,
        reserved: 0,
        available: 12,
      };
      expect(put.statusCode).toBe(200);
      expect(put.json).toEqual(product);
      expect(get.statusCode).toBe(200);
      expect(get.json).toEqual(product);
    });

    test('PUT replaces a product and keeps its reservations; going below them is 409 ON_HAND_BELOW_RESERVED', async () => {
      await call('putProduct', {
        pathParameters: { sku: 'ADMIN-2' },
        body: { name: 'Gadget', priceCents: 500, currency: 'USD', onHand: 10 },
      });
      const placed = await new OrderStore(db.sql).placeOrder(
        orderInput({ items: [{ sku: 'ADMIN-2', quantity: 4 }] }),
      );
      expect(placed.outcome).toBe('PLACED');

      const restocked = await call('putProduct', {
        pathParameters: { sku: 'ADMIN-2' },
        body: { name: 'Gadget v2', priceCents: 600, currency: 'USD', onHand: 5 },
      });
      const refused = await call('putProduct', {
        pathParameters: { sku: 'ADMIN-2' },
        body: { name: 'Gadget v2', priceCents: 600, currency: 'USD', onHand: 3 },
      });

      expect(restocked.json).toMatchObject({ name: 'Gadget v2', onHand: 5, reserved: 4, available: 1 });
      expect(refused.statusCode).toBe(409);
      expect(refused.json).toMatchObject({ code: 'ON_HAND_BELOW_RESERVED' });
      expect((await new CatalogStore(db.sql).getProduct('ADMIN-2'))?.onHand).toBe(5);
    });

    test.each([
      ['a SKU that is not well formed', { pathParameters: { sku: '-bad sku-' } }, '/pathParameters/sku'],
      ['a SKU of 65 characters', { pathParameters: { sku: 'S'.repeat(65) } }, '/pathParameters/sku'],
      ['a missing name', { body: { priceCents: 1, currency: 'USD', onHand: 1 } }, '/name'],
      ['an empty name', { body: { name: '', priceCents: 1, currency: 'USD', onHand: 1 } }, '/name'],
      [
        'a name of 201 characters',
        { body: { name: 'n'.repeat(201), priceCents: 1, currency: 'USD', onHand: 1 } },
        '/name',
      ],
      [
        'a name with a NUL',
        { body: { name: 'a\u0000b', priceCents: 1, currency: 'USD', onHand: 1 } },
        '/name',
      ],
      [
        'a name with a lone surrogate',
        { body: { name: 'a\ud800', priceCents: 1, currency: 'USD', onHand: 1 } },
        '/name',
      ],
      [
        'a negative price',
        { body: { name: 'n', priceCents: -1, currency: 'USD', onHand: 1 } },
        '/priceCents',
      ],
      [
        'a price above 10^9',
        { body: { name: 'n', priceCents: 1_000_000_001, currency: 'USD', onHand: 1 } },
        '/priceCents',
      ],
      [
        'a fractional price',
        { body: { name: 'n', priceCents: 1.5, currency: 'USD', onHand: 1 } },
        '/priceCents',
      ],
      [
        'an unsupported currency',
        { body: { name: 'n', priceCents: 1, currency: 'usd', onHand: 1 } },
        '/currency',
      ],
      [
        'on-hand above 10^7',
        { body: { name: 'n', priceCents: 1, currency: 'USD', onHand: 10_000_001 } },
        '/onHand',
      ],
      [
        'an unknown member',
        { body: { name: 'n', priceCents: 1, currency: 'USD', onHand: 1, reserved: 0 } },
        '/reserved',
      ],
      ['an array body', { body: [] }, ''],
    ])('PUT with %s: 400 VALIDATION_FAILED', async (_, options, path) => {
      const result = await call('putProduct', { ...VALID.putProduct, ...options });
      expect(result.statusCode).toBe(400);
      expect(result.json.code).toBe('VALIDATION_FAILED');
      expect((result.json.errors as { path: string }[]).map((error) => error.path)).toContain(path);
    });

    test.each([
      'ADMIN-MISSING',
      'not a sku',
      '',
    ])('GET of an unknown or malformed SKU (%j): 404 PRODUCT_NOT_FOUND', async (sku) => {
      const result = await call('getProduct', { pathParameters: { sku } });
      expect(result.statusCode).toBe(404);
      expect(result.json.code).toBe('PRODUCT_NOT_FOUND');
    });
  });

  describe('wallets', () => {
    test('PUT sets the balance through the ledger and GET reads it', async () => {
      const customerId = `wallet-${randomUUID()}`;
      const first = await call('putWallet', { pathParameters: { customerId }, body: { balanceCents: 5000 } });
      const second = await call('putWallet', {
        pathParameters: { customerId },
        body: { balanceCents: 1200 },
      });
      const read = await call('getWallet', { pathParameters: { customerId } });

      expect(first.statusCode).toBe(200);
      expect(second.json).toEqual({ customerId, balanceCents: 1200 });
      expect(read.statusCode).toBe(200);
      expect(read.json).toEqual({ customerId, balanceCents: 1200 });
      const [ledger] = await db.sql<{ sum: number }[]>`
        select sum(amount_cents)::bigint as sum from wallet_transactions where customer_id = ${customerId}
      `;
      expect(ledger?.sum).toBe(1200);
    });

    test.each([
      ['a negative balance', { body: { balanceCents: -1 } }, '/balanceCents'],
      ['a balance above 10^9', { body: { balanceCents: 1_000_000_001 } }, '/balanceCents'],
      ['a balance as a string', { body: { balanceCents: '10' } }, '/balanceCents'],
      ['an unknown member', { body: { balanceCents: 1, currency: 'USD' } }, '/currency'],
      [
        'a customer id of 129 characters',
        { pathParameters: { customerId: 'c'.repeat(129) } },
        '/pathParameters/customerId',
      ],
      ['a customer id with a space', { pathParameters: { customerId: 'a b' } }, '/pathParameters/customerId'],
    ])('PUT with %s: 400 VALIDATION_FAILED', async (_, options, path) => {
      const result = await call('putWallet', { ...VALID.putWallet, ...options });
      expect(result.statusCode).toBe(400);
      expect(result.json.code).toBe('VALIDATION_FAILED');
      expect((result.json.errors as { path: string }[]).map((error) => error.path)).toContain(path);
    });

    test('GET of a customer without a wallet: 404 WALLET_NOT_FOUND', async () => {
      const result = await call('getWallet', { pathParameters: { customerId: `nobody-${randomUUID()}` } });
      expect(result.statusCode).toBe(404);
      expect(result.json.code).toBe('WALLET_NOT_FOUND');
    });
  });

  describe('compensations', () => {
    let pendingId: string;
    let resolvedId: string;

    beforeAll(async () => {
      const orders = new OrderStore(db.sql);
      await new CatalogStore(db.sql).upsertProduct('ADMIN-COMP', {
        name: 'c',
        priceCents: 100,
        currency: 'USD',
        onHand: 10,
      });
      for (const status of ['PENDING', 'RESOLVED'] as const) {
        const input = orderInput({ items: [{ sku: 'ADMIN-COMP', quantity: 1 }] });
        await orders.placeOrder(input);
        const compensationId = `comp-${randomUUID()}`;
        await orders.markRequiresAttention({
          orderId: input.orderId,
          compensationId,
          steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
          error: 'provider unavailable',
          cancellationReason: 'PAYMENT_FAILED',
          correlationId: 'corr-comp',
        });
        if (status === 'RESOLVED') await new CompensationStore(db.sql).markResolved(compensationId);
        if (status === 'PENDING') pendingId = compensationId;
        else resolvedId = compensationId;
      }
    });

    test('lists failed compensations unresolved first, and filters by status case-insensitively', async () => {
      const all = await call('listCompensations');
      const pending = await call('listCompensations', { query: { status: 'pending' } });
      const limited = await call('listCompensations', { query: { limit: '1' } });

      expect(all.statusCode).toBe(200);
      const ids = (all.json.items as { compensationId: string }[]).map((item) => item.compensationId);
      expect(ids.filter((id) => id === pendingId || id === resolvedId)).toEqual([pendingId, resolvedId]);
      expect(pending.json.items).toEqual([
        expect.objectContaining({
          compensationId: pendingId,
          status: 'PENDING',
          steps: ['REVERSE_PAYMENT', 'CANCEL_ORDER'],
          lastError: 'provider unavailable',
          cancellationReason: 'PAYMENT_FAILED',
          correlationId: 'corr-comp',
          providerState: null,
          resolvedAt: null,
          customerId: expect.any(String),
          // The order still holds its stock; authorize never recorded an answer: the provider knows.
          owed: {
            reservedItems: [{ sku: 'ADMIN-COMP', quantity: 1 }],
            storeCreditCents: 0,
            card: { status: 'UNKNOWN', amountCents: 100 },
          },
        }),
      ]);
      expect(limited.json.items).toHaveLength(1);
    });

    test('filters by step still to do, error text, age and customer; UNRESOLVED leaves out the resolved', async () => {
      const orders = new OrderStore(db.sql);
      const customerId = `filtered-${randomUUID()}`;
      const placed: Record<string, string> = {};
      for (const [name, steps, error] of [
        ['reverse', ['REVERSE_PAYMENT', 'CANCEL_ORDER'], 'simulated void failure for order x'],
        ['release', ['RELEASE_RESERVATIONS', 'CANCEL_ORDER'], 'database unavailable'],
      ] as const) {
        const input = orderInput({ customerId, items: [{ sku: 'ADMIN-COMP', quantity: 1 }] });
        await orders.placeOrder(input);
        await orders.markRequiresAttention({
          orderId: input.orderId,
          compensationId: `${name}-${randomUUID()}`,
          steps: [...steps],
          error,
          cancellationReason: 'PAYMENT_FAILED',
          correlationId: 'corr-filter',
        });
        placed[name] = input.orderId;
      }
      const orderIds = (result: Awaited<ReturnType<typeof call>>) =>
        (result.json.items as { orderId: string }[]).map((item) => item.orderId);

      const byStep = await call('listCompensations', { query: { customerId, step: 'reverse_payment' } });
      const byError = await call('listCompensations', { query: { customerId, error: 'VOID FAILURE' } });
      const recent = await call('listCompensations', { query: { customerId, olderThanMinutes: '0' } });
      const old = await call('listCompensations', { query: { customerId, olderThanMinutes: '60' } });
      const unresolved = await call('listCompensations', { query: { status: 'unresolved' } });

      expect(orderIds(byStep)).toEqual([placed.reverse]);
      expect(orderIds(byError)).toEqual([placed.reverse]);
      expect(orderIds(recent).sort()).toEqual([placed.reverse, placed.release].sort());
      expect(orderIds(old)).toEqual([]);
      const statuses = (unresolved.json.items as { status: string; compensationId: string }[]).map(
        (item) => item.status,
      );
      expect(statuses).not.toContain('RESOLVED');
      expect(orderIds(unresolved)).toContain(placed.release);
    });

    test.each([
      [{ status: 'STUCK' }, '/query/status'],
      [{ step: 'VOID' }, '/query/step'],
      [{ error: 'x'.repeat(201) }, '/query/error'],
      [{ olderThanMinutes: '-1' }, '/query/olderThanMinutes'],
      [{ customerId: 'a b' }, '/query/customerId'],
      [{ limit: '0' }, '/query/limit'],
      [{ limit: '101' }, '/query/limit'],
      [{ limit: 'ten' }, '/query/limit'],
    ])('a bad query %j: 400 VALIDATION_FAILED', async (query, path) => {
      const result = await call('listCompensations', { query });
      expect(result.statusCode).toBe(400);
      expect(result.json.code).toBe('VALIDATION_FAILED');
      expect((result.json.errors as { path: string }[])[0]?.path).toBe(path);
    });
  });

  describe('what every admin route shares', () => {
    const operations = Object.keys(ROUTES) as Operation[];

    test.each(operations)('%s without an IAM identity: 401 UNAUTHORIZED', async (operation) => {
      const result = await call(operation, VALID[operation], {});
      expect(result.statusCode).toBe(401);
      expect(result.json.code).toBe('UNAUTHORIZED');
    });

    test.each(operations)('%s called by a customer: 403 FORBIDDEN', async (operation) => {
      const result = await call(operation, VALID[operation], { customerId: 'customer-1' });
      expect(result.statusCode).toBe(403);
      expect(result.json.code).toBe('FORBIDDEN');
    });

    test.each(operations)('%s with the database down: 503 SERVICE_UNAVAILABLE', async (operation) => {
      const down = await unreachableSql();
      try {
        const result = await call(
          operation,
          VALID[operation],
          undefined,
          createAdminHandlers(storesOver(down)),
        );
        expect(result.statusCode).toBe(503);
        expect(result.headers['Retry-After']).toBe('2');
        expect(result.json.code).toBe('SERVICE_UNAVAILABLE');
      } finally {
        await down.end({ timeout: 1 });
      }
    });

    test.each(operations)('%s on a database without the schema: 500 INTERNAL_ERROR', async (operation) => {
      const bare = await createTestDatabase({ migrate: false });
      try {
        const result = await call(
          operation,
          VALID[operation],
          undefined,
          createAdminHandlers(storesOver(bare.sql)),
        );
        expect(result.statusCode).toBe(500);
        expect(result.json.code).toBe('INTERNAL_ERROR');
        expect(result.body).not.toMatch(/does not exist|relation "|function [a-z_]+\(/);
      } finally {
        await bare.drop();
      }
    });

    test.each([
      'putProduct',
      'putWallet',
    ] as const)('%s with a body above 64 KB: 413 PAYLOAD_TOO_LARGE', async (operation) => {
      const result = await call(operation, {
        ...VALID[operation],
        body: JSON.stringify({ padding: 'x'.repeat(70_000) }),
      });
      expect(result.statusCode).toBe(413);
      expect(result.json.code).toBe('PAYLOAD_TOO_LARGE');
    });

    test.each([
      'putProduct',
      'putWallet',
    ] as const)('%s with a form body: 415 UNSUPPORTED_MEDIA_TYPE', async (operation) => {
      const result = await call(operation, {
        ...VALID[operation],
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expect(result.statusCode).toBe(415);
      expect(result.json.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });
  });

  test('every status and problem code of the admin routes is produced by a test above', () => {
    expect(coverage.gaps()).toEqual({ missing: [], undeclared: [] });
  });
});
