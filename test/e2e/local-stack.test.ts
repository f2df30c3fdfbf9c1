import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  auditDatabase,
  auditPayments,
  type PaymentLedgerEntry,
  violationsOf,
} from '../../bench/lib/invariants.js';
import { createSql } from '../../src/db/client.js';
import {
  freeStackPorts,
  newDataDir,
  type StackPorts,
  type StackProcess,
  spawnStack,
} from '../support/local-stack-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe('local stack end to end, over HTTP only', () => {
  let ports: StackPorts;
  let dataDir: string;
  let stack: StackProcess;

  beforeAll(async () => {
    ports = await freeStackPorts();
    dataDir = await newDataDir();
    stack = await spawnStack({ ports, dataDir });
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  const customer = (id: string) => ({ Authorization: `Bearer dev-${id}` });
  const admin = { Authorization: 'Bearer admin' };

  async function checkout(customerId: string, key: string, body: object) {
    const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: { ...customer(customerId), 'Idempotency-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  async function order(customerId: string, orderId: string) {
    const response = await fetch(`${stack.apiUrl}/v1/orders/${orderId}`, { headers: customer(customerId) });
    return (await response.json()) as { status: string; cancellationReason?: string };
  }

  async function waitForOrder(customerId: string, orderId: string, status: string, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = (await order(customerId, orderId)).status;
      if (last === status) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`order ${orderId} is ${last}, expected ${status}`);
  }

  async function product(sku: string) {
    const response = await fetch(`${stack.apiUrl}/v1/admin/products/${sku}`, { headers: admin });
    return (await response.json()) as { onHand: number; reserved: number; available: number };
  }

  const cart = (sku: string, paymentMethod: string) => ({
    items: [{ sku, quantity: 1 }],
    currency: 'USD',
    paymentMethod,
    storeCreditCents: 0,
  });

  test('pm_card_visa reaches CONFIRMED in seconds', async () => {
    const placed = await checkout('alice', 'visa-1', cart('SKU-1', 'pm_card_visa'));

    expect(placed.status).toBe(202);
    const { orderId } = JSON.parse(placed.text) as { orderId: string };
    await waitForOrder('alice', orderId, 'CONFIRMED');
  });

  test('pm_card_declined reaches CANCELLED with the stock restored', async () => {
    const before = await product('SKU-2');

    const placed = await checkout('alice', 'declined-1', cart('SKU-2', 'pm_card_declined'));

    const { orderId } = JSON.parse(placed.text) as { orderId: string };
    await waitForOrder('alice', orderId, 'CANCELLED');
    expect((await order('alice', orderId)).cancellationReason).toBe('PAYMENT_DECLINED');
    expect(await product('SKU-2')).toEqual(before);
  });

  test('pm_void_fails: REQUIRES_ATTENTION, in the compensations view, CANCELLED after fix and npm run redrive', async () => {
    const placed = await checkout('alice', 'void-fails-1', cart('SKU-3', 'pm_void_fails'));
    const { orderId } = JSON.parse(placed.text) as { orderId: string };

    await waitForOrder('alice', orderId, 'REQUIRES_ATTENTION');
    const compensations = async () => {
      const response = await fetch(`${stack.apiUrl}/v1/admin/compensations`, { headers: admin });
      const { items } = (await response.json()) as { items: { orderId: string; status: string }[] };
      return items.find((item) => item.orderId === orderId);
    };
    const deadline = Date.now() + 40_000;
    while ((await compensations())?.status !== 'FAILED') {
      if (Date.now() > deadline) throw new Error('the compensation never reached the DLQ');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });
    // The row says FAILED at the worker's last attempt; SQS moves the message to the DLQ on its
    // next receive, once the visibility timeout is over. Redrive when it is there, as the DLQ
    // alarm tells an operator to.
    let redrive = { stdout: '' };
    const movedBy = Date.now() + 20_000;
    do {
      redrive = await run('npm', ['run', '--silent', 'redrive'], {
        cwd: ROOT,
        env: { ...process.env, LOCAL_DATA_DIR: dataDir },
        encoding: 'utf8',
      });
      if (!/DLQ is empty/.test(redrive.stdout)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } while (Date.now() < movedBy);

    expect(redrive.stdout).toMatch(/moved [1-9]\d* message/);
    await waitForOrder('alice', orderId, 'CANCELLED');
    expect((await compensations())?.status).toBe('RESOLVED');
  });

  test('idempotent replay over HTTP: the same key and body answer the first response byte for byte', async () => {
    const body = cart('SKU-1', 'pm_card_visa');

    const first = await checkout('bob', 'replay-1', body);
    const second = await checkout('bob', 'replay-1', body);
    const reused = await checkout('bob', 'replay-1', { ...body, paymentMethod: 'pm_card_declined' });

    expect(second.status).toBe(first.status);
    expect(second.text).toBe(first.text);
    expect(reused.status).toBe(422);
    expect(JSON.parse(reused.text)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  test('100 concurrent checkouts on one SKU with 10 in stock: exactly 10 accepted, all CONFIRMED, stock exact', async () => {
    await fetch(`${stack.apiUrl}/v1/admin/products/E2E-HOT`, {
      method: 'PUT',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Hot item', priceCents: 500, currency: 'USD', onHand: 10 }),
    });

    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        checkout(`stampede-${i}`, `stampede-${i}`, cart('E2E-HOT', 'pm_card_visa')),
      ),
    );

    const accepted = responses.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(10);
    expect(
      responses.filter((r) => r.status === 409).every((r) => JSON.parse(r.text).code === 'OUT_OF_STOCK'),
    ).toBe(true);
    expect(responses.filter((r) => r.status === 409)).toHaveLength(90);
    for (const [i, response] of responses.entries()) {
      if (response.status !== 202) continue;
      await waitForOrder(`stampede-${i}`, JSON.parse(response.text).orderId, 'CONFIRMED');
    }
    expect(await product('E2E-HOT')).toEqual(
      expect.objectContaining({ onHand: 0, reserved: 0, available: 0 }),
    );
  });

  test('invariants hold across everything above', async () => {
    const sql = createSql(`postgres://postgres:postgres@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/postgres`, {
      max: 1,
    });
    const { entries } = (await (await fetch(`${stack.providerUrl}/ledger`)).json()) as {
      entries: PaymentLedgerEntry[];
    };
    const reports = [...(await auditDatabase(sql)), ...(await auditPayments(sql, entries))];
    await sql.end();

    expect(violationsOf(reports)).toEqual([]);
  });

  test("each function's connections and the outbox relay's carry their names (docs/capacity.md)", async () => {
    const placed = await checkout('dave', 'named-1', cart('SKU-1', 'pm_card_visa'));
    const { orderId } = JSON.parse(placed.text) as { orderId: string };
    await waitForOrder('dave', orderId, 'CONFIRMED');
    const sql = createSql(`postgres://postgres:postgres@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/postgres`, {
      max: 1,
    });
    const rows = await sql<{ name: string }[]>`
      select distinct application_name as name from pg_stat_activity where usename = 'checkout_app'
    `;
    await sql.end();

    expect(rows.map((row) => row.name)).toEqual(
      expect.arrayContaining([
        'checkout-placeOrder',
        'checkout-AuthorizePayment',
        'checkout-CapturePayment',
        'local-outbox-relay',
      ]),
    );
  });

  test('a restart on the same data folder keeps the orders', async () => {
    const placed = await checkout('carol', 'restart-1', cart('SKU-1', 'pm_card_visa'));
    const { orderId } = JSON.parse(placed.text) as { orderId: string };
    await waitForOrder('carol', orderId, 'CONFIRMED');

    stack.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    stack = await spawnStack({ ports, dataDir });

    expect(await order('carol', orderId)).toMatchObject({ status: 'CONFIRMED' });
    const replay = await checkout('carol', 'restart-1', cart('SKU-1', 'pm_card_visa'));
    expect(JSON.parse(replay.text)).toMatchObject({ orderId });
  });
});

describe('local stack configuration errors fail fast with a clear message', () => {
  test('a port in use', async () => {
    const ports = await freeStackPorts();
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(ports.PORT, '127.0.0.1');

    const start = spawnStack({ ports, dataDir: await newDataDir(), readyTimeoutMs: 30_000 });

    await expect(start).rejects.toThrow(
      new RegExp(`port ${ports.PORT} on 127.0.0.1 is already in use.*PORT=`),
    );
    blocker.close();
  });

  test('an unreachable DATABASE_URL', async () => {
    const ports = await freeStackPorts();

    const start = spawnStack({
      ports,
      dataDir: await newDataDir(),
      env: { DATABASE_URL: `postgres://nobody:secret@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/nothing` },
      readyTimeoutMs: 30_000,
    });

    await expect(start).rejects.toThrow(/cannot reach the database: .*check DATABASE_URL/);
  });
});
