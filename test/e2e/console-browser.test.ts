import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readAttention } from '../../tools/ops/bulk.js';
import { type OpsConsole, startOpsConsole } from '../../tools/ops/console/server.js';
import { localTarget, type OpsTarget } from '../../tools/ops/target.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Debian's Chromium (.ci/run installs it); playwright-core downloads no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Taken on every run; they replace docs/console.md's pictures when `UPDATE_SCREENSHOTS=1`, so a test
 * run leaves the working tree as it found it (the pictures carry ages and ids that change each run).
 */
const SCREENSHOTS = path.join(
  ROOT,
  process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/images' : '.test-output/console',
);

describe('the operator console in a real browser, against the local stack (docs/console.md)', () => {
  let stack: StackProcess;
  let target: OpsTarget;
  let opsConsole: OpsConsole;
  let browser: Browser;
  let page: Page;
  const orders = { single: '', trio: [] as string[], other: '' };
  const trioCustomer = `trio-${randomUUID().slice(0, 8)}`;

  const admin = async (orderId: string) =>
    (await (
      await fetch(`${stack.apiUrl}/v1/admin/orders/${orderId}`, {
        headers: { Authorization: 'Bearer admin' },
      })
    ).json()) as { status: string; compensation: { status: string } | null };

  async function voidFailingOrder(customer: string): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer dev-${customer}`,
        'Idempotency-Key': randomUUID(),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku: 'SKU-3', quantity: 1 }],
        currency: 'USD',
        paymentMethod: 'pm_void_fails',
        storeCreditCents: 0,
      }),
    });
    return ((await response.json()) as { orderId: string }).orderId;
  }

  async function waitFor<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    what: string,
    timeoutMs = 60_000,
  ) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  const rowOf = (orderId: string) => page.getByRole('row').filter({ hasText: orderId });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH (docs/testing.md)`,
      );
    }
    const dataDir = await newDataDir();
    stack = await spawnStack({ ports: await freeStackPorts(), dataDir });
    orders.single = await voidFailingOrder('olga');
    orders.trio = [
      await voidFailingOrder(trioCustomer),
      await voidFailingOrder(trioCustomer),
      await voidFailingOrder(trioCustomer),
    ];
    orders.other = await voidFailingOrder('ivan');
    for (const orderId of [orders.single, ...orders.trio, orders.other]) {
      await waitFor(
        () => admin(orderId),
        (order) => order.compensation?.status === 'FAILED',
        `${orderId} in the DLQ`,
      );
    }
    target = await localTarget(dataDir);
    // A FAILED row comes with the 5th receive; SQS moves the message once its visibility ends.
    await waitFor(
      () => readAttention(target),
      (attention) => attention.dlqDepth === 5,
      'five messages in the DLQ',
    );
    opsConsole = await startOpsConsole(target);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await opsConsole?.close();
    target?.close();
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  test('a pm_void_fails order appears; once the provider is fixed, Retry ends it CANCELLED and the page shows it resolved', async () => {
    await page.goto(opsConsole.url);
    await expect.poll(() => rowOf(orders.single).getByRole('cell').nth(2).textContent()).toBe('FAILED');
    await expect
      .poll(() => page.getByRole('region', { name: 'Needs attention' }).textContent())
      .toContain('DLQ: 5 message(s)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-compensations.png'), fullPage: true });

    await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });
    await page.getByRole('button', { name: `Retry compensation of order ${orders.single}` }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toMatch(/queued compensation .* again/);
    await waitFor(
      () => admin(orders.single),
      (order) => order.status === 'CANCELLED',
      'the retried order',
    );
    await page.reload();

    expect(await rowOf(orders.single).getByRole('cell').nth(2).textContent()).toBe('RESOLVED');
    expect(await rowOf(orders.single).getByRole('cell').last().textContent()).toBe('resolved');
  }, 120_000);

  test("Retry all matching, filtered to one customer's three orders, confirms three and resolves exactly those three", async () => {
    await page.goto(opsConsole.url);
    await page.getByLabel('Customer').fill(trioCustomer);
    await page.getByRole('button', { name: 'Retry all matching…' }).click();

    await expect
      .poll(() => page.getByRole('main').textContent())
      .toContain('This retries 3 failed compensation(s)');
    await page.getByLabel('Reason (recorded in the operator log)').fill('provider fixed');
    await page.getByRole('button', { name: 'Retry 3 compensation(s)' }).click();
    await expect
      .poll(() => page.locator('#task-status').textContent(), { timeout: 30_000 })
      .toBe('COMPLETED: 3 queued again');
    const trio = await Promise.all(
      orders.trio.map((orderId) =>
        waitFor(
          () => admin(orderId),
          (order) => order.status === 'CANCELLED',
          orderId,
        ),
      ),
    );

    expect(trio.map((order) => order.compensation?.status)).toEqual(['RESOLVED', 'RESOLVED', 'RESOLVED']);
    expect((await admin(orders.other)).compensation?.status).toBe('FAILED');
    await page.goto(`${opsConsole.url}orders/${orders.trio[0]}`);
    await expect
      .poll(() => page.getByRole('table', { name: 'Timeline' }).textContent())
      .toContain('COMPENSATION_RETRY_REQUESTED');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-order.png'), fullPage: true });
  }, 120_000);

  test('Redrive DLQ at 1 message a second shows its progress and empties the DLQ', async () => {
    await page.goto(opsConsole.url);
    await page.getByLabel('Messages per second').fill('1');
    await page.getByRole('button', { name: 'Redrive DLQ…' }).click();
    await page.getByRole('button', { name: 'Redrive 5 message(s)' }).click();

    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          seen.add((await page.locator('#task-progress').getAttribute('value')) ?? '');
          return page.locator('#task-status').textContent();
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe('COMPLETED: 5 moved; the DLQ now holds 0');
    // Seen part-way: the bar moved through the messages, not straight to the end.
    expect([...seen].some((value) => Number(value) > 0 && Number(value) < 5)).toBe(true);
    await waitFor(
      () => admin(orders.other),
      (order) => order.status === 'CANCELLED',
      'the redriven order',
    );
    await page.goto(opsConsole.url);
    expect(await page.getByRole('region', { name: 'Needs attention' }).textContent()).toContain(
      'DLQ: 0 message(s)',
    );
  }, 120_000);

  test('the switches page turns the sweeper and relay off and on again, and shows who did it and why', async () => {
    await page.goto(`${opsConsole.url}switches`);
    const jobs = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'jobs' }) });
    await jobs.getByLabel('Reason').fill('event bus maintenance');
    await jobs.getByRole('button', { name: 'Turn jobs off' }).click();

    await expect
      .poll(() => page.getByRole('region', { name: 'Needs attention' }).textContent())
      .toContain('Switches off: jobs');
    expect(await jobs.getByRole('cell').nth(0).textContent()).toBe('off');
    expect(await jobs.getByRole('cell').nth(4).textContent()).toBe('event bus maintenance');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-switches.png'), fullPage: true });
    await jobs.getByRole('button', { name: 'Turn jobs on' }).click();
    await expect.poll(() => jobs.getByRole('cell').nth(0).textContent()).toBe('on');
    expect(await page.getByRole('table', { name: 'Operator log (newest first)' }).textContent()).toMatch(
      /switch jobs on[\s\S]*switch jobs off[\s\S]*redrive dlq[\s\S]*retry matching/,
    );
  }, 60_000);
});
