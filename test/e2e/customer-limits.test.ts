import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSql } from '../../src/db/client.js';
import {
  freeStackPorts,
  newDataDir,
  type StackPorts,
  type StackProcess,
  spawnStack,
} from '../support/local-stack-process.js';

/**
 * The per-customer limits of `npm start`, over HTTP only: the same limiter code as in AWS,
 * counting in the local DynamoDB stand-in.
 */
describe('local stack with CUSTOMER_CHECKOUTS_PER_MINUTE=10', () => {
  let ports: StackPorts;
  let stack: StackProcess;

  beforeAll(async () => {
    ports = await freeStackPorts();
    stack = await spawnStack({
      ports,
      dataDir: await newDataDir(),
      env: { CUSTOMER_CHECKOUTS_PER_MINUTE: '10' },
    });
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  async function checkout(customerId: string, key: string) {
    const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer dev-${customerId}`,
        'Idempotency-Key': key,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku: 'SKU-1', quantity: 1 }],
        currency: 'USD',
        paymentMethod: 'pm_card_visa',
        storeCreditCents: 0,
      }),
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** The limit counts per clock minute: start where all eleven requests fit in one. */
  async function startOfAFreshMinute(): Promise<void> {
    const secondsLeft = 60 - ((Date.now() / 1000) % 60);
    if (secondsLeft < 15) await new Promise((resolve) => setTimeout(resolve, secondsLeft * 1000 + 100));
  }

  test("a customer's 11th checkout in a minute is 429 RATE_LIMITED with Retry-After and writes nothing, while another customer is served", async () => {
    // prepare
    const sql = createSql(`postgres://postgres:postgres@127.0.0.1:${ports.LOCAL_POSTGRES_PORT}/postgres`, {
      max: 1,
    });
    const ordersOf = async (customerId: string) =>
      (
        await sql<
          { count: number }[]
        >`select count(*)::int as count from orders where customer_id = ${customerId}`
      )[0]?.count;
    try {
      await startOfAFreshMinute();
      for (let i = 1; i <= 10; i++) {
        expect((await checkout('mallory', `limited-${i}`)).status).toBe(202);
      }
      const reservedBefore = (
        await sql<{ reserved: number }[]>`select reserved from inventory where sku = 'SKU-1'`
      )[0]?.reserved;

      // act
      const eleventh = await checkout('mallory', 'limited-11');
      const other = await checkout('bob', 'not-limited-1');

      // assess
      expect(eleventh.status).toBe(429);
      expect(eleventh.headers.get('content-type')).toBe('application/problem+json');
      expect(JSON.parse(eleventh.text)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      const retryAfter = Number(eleventh.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await ordersOf('mallory')).toBe(10);
      expect(other.status).toBe(202);
      expect(await ordersOf('bob')).toBe(1);
      // bob's order reserved one more unit; mallory's refused one reserved nothing.
      const reservedAfter = (
        await sql<{ reserved: number }[]>`select reserved from inventory where sku = 'SKU-1'`
      )[0]?.reserved;
      expect(reservedAfter).toBeLessThanOrEqual((reservedBefore ?? 0) + 1);
    } finally {
      await sql.end();
    }
  });
});
