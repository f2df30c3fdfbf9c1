import { randomUUID } from 'node:crypto';
import type { AdminClient } from '../ops/admin-client.js';
import { OpsError } from '../ops/errors.js';

/** Raised for the first check that does not hold; its message is the one line the smoke test prints. */
export class SmokeFailure extends Error {
  override readonly name = 'SmokeFailure';
}

/** The API under test, as the smoke test speaks to it. */
export interface SmokeTarget {
  /** The API's base URL (the stack's `ApiUrl` output, or the local stack's). */
  readonly baseUrl: string;
  /** What a customer request carries: its bearer token, and the API key in AWS. */
  customerHeaders(): Promise<Record<string, string>>;
  /** The admin routes (SigV4 in AWS, tools/ops/admin-client.ts). */
  readonly admin: AdminClient;
}

export interface SmokeOptions {
  /** How long an order may take to reach its final status. */
  readonly orderTimeoutMs: number;
  /** How often an order's status is read while waiting. @default 500 */
  readonly pollIntervalMs?: number;
  /** Each HTTP request's own limit. @default 15000 */
  readonly requestTimeoutMs?: number;
}

/** The product the smoke test buys, stocked by the test itself in the stage's catalog. */
export const SMOKE_SKU = 'SMOKE-TEST';
const SMOKE_STOCK = 1000;
/** The simulated provider's test cards (docs/architecture.md, "The parts"). */
const APPROVED_CARD = 'pm_card_visa';
const DECLINED_CARD = 'pm_card_declined';
const FINAL_STATUSES = new Set(['CONFIRMED', 'CANCELLED', 'REQUIRES_ATTENTION']);

interface Product {
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
}

/**
 * The smoke test (docs/deploy.md, "The smoke test"): the API is ready; a checkout paid with a card
 * the provider approves reaches CONFIRMED; one paid with a card it declines ends CANCELLED and its
 * stock is available again. Reports each check that passed; throws {@link SmokeFailure} on the first
 * that does not.
 */
export async function runSmokeChecks(
  target: SmokeTarget,
  options: SmokeOptions,
  progress: (line: string) => void,
): Promise<void> {
  const http = new SmokeHttp(target.baseUrl, options.requestTimeoutMs ?? 15_000);
  const run = randomUUID();

  const readiness = await http.request('GET', '/health/ready');
  const report = readiness.body as { status?: string; checks?: Record<string, { status?: string }> };
  if (readiness.status !== 200 || report.status !== 'ready') {
    const checks = Object.entries(report.checks ?? {})
      .map(([name, check]) => `${name} ${check.status ?? '?'}`)
      .join(', ');
    throw new SmokeFailure(`readiness: ${readiness.status} ${report.status ?? ''} (${checks})`);
  }
  progress('ok readiness: ready');

  await admin(() =>
    target.admin.request('PUT', `/v1/admin/products/${SMOKE_SKU}`, {
      name: 'Smoke test item',
      priceCents: 100,
      currency: 'USD',
      onHand: SMOKE_STOCK,
    }),
  );
  progress(`ok product ${SMOKE_SKU} stocked: ${SMOKE_STOCK} on hand`);

  const customer = await target.customerHeaders();
  const confirmed = await checkout(http, customer, `smoke-${run}-approved`, APPROVED_CARD);
  const approvedOrder = await waitForFinalStatus(http, customer, confirmed, options);
  if (approvedOrder.status !== 'CONFIRMED') {
    throw new SmokeFailure(
      `checkout ${APPROVED_CARD}: order ${confirmed} ended ${describe(approvedOrder)}, expected CONFIRMED`,
    );
  }
  progress(`ok checkout ${APPROVED_CARD}: order ${confirmed} CONFIRMED`);

  const before = await product(target.admin);
  const declined = await checkout(http, customer, `smoke-${run}-declined`, DECLINED_CARD);
  const declinedOrder = await waitForFinalStatus(http, customer, declined, options);
  if (declinedOrder.status !== 'CANCELLED') {
    throw new SmokeFailure(
      `checkout ${DECLINED_CARD}: order ${declined} ended ${describe(declinedOrder)}, expected CANCELLED`,
    );
  }
  const after = await product(target.admin);
  if (after.available !== before.available || after.reserved !== before.reserved) {
    throw new SmokeFailure(
      `checkout ${DECLINED_CARD}: order ${declined} CANCELLED but its stock is not back: ${SMOKE_SKU} ` +
        `available ${before.available} -> ${after.available}, reserved ${before.reserved} -> ${after.reserved}`,
    );
  }
  progress(
    `ok checkout ${DECLINED_CARD}: order ${declined} CANCELLED, stock back (${after.available} available)`,
  );
}

async function checkout(
  http: SmokeHttp,
  customer: Record<string, string>,
  idempotencyKey: string,
  paymentMethod: string,
): Promise<string> {
  const placed = await http.request(
    'POST',
    '/v1/checkout',
    { items: [{ sku: SMOKE_SKU, quantity: 1 }], currency: 'USD', paymentMethod, storeCreditCents: 0 },
    { ...customer, 'idempotency-key': idempotencyKey },
  );
  const orderId = (placed.body as { orderId?: unknown }).orderId;
  if (placed.status !== 202 || typeof orderId !== 'string') {
    throw new SmokeFailure(
      `checkout ${paymentMethod}: ${placed.status} ${problemOf(placed.body)}, expected 202`,
    );
  }
  return orderId;
}

interface OrderView {
  readonly status: string;
  readonly cancellationReason?: string;
}

/** Reads the order until it reaches a final status, or until the time allowed is over. */
async function waitForFinalStatus(
  http: SmokeHttp,
  customer: Record<string, string>,
  orderId: string,
  options: SmokeOptions,
): Promise<OrderView> {
  const deadline = Date.now() + options.orderTimeoutMs;
  let order: OrderView = { status: 'unknown' };
  for (;;) {
    const read = await http.request('GET', `/v1/orders/${orderId}`, undefined, customer);
    if (read.status !== 200) {
      throw new SmokeFailure(`order ${orderId}: GET answered ${read.status} ${problemOf(read.body)}`);
    }
    order = read.body as OrderView;
    if (FINAL_STATUSES.has(order.status)) return order;
    if (Date.now() >= deadline) {
      throw new SmokeFailure(
        `order ${orderId} is still ${order.status} after ${Math.round(options.orderTimeoutMs / 1000)} s, ` +
          'expected a final status',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 500));
  }
}

async function product(adminClient: AdminClient): Promise<Product> {
  const { body } = await admin(() => adminClient.request('GET', `/v1/admin/products/${SMOKE_SKU}`));
  return body as unknown as Product;
}

/** Admin calls fail with the ops client's one-line errors; here they are smoke failures. */
async function admin<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof OpsError) throw new SmokeFailure(`admin API: ${error.message}`, { cause: error });
    throw error;
  }
}

function describe(order: OrderView): string {
  return order.cancellationReason ? `${order.status} (${order.cancellationReason})` : order.status;
}

function problemOf(body: unknown): string {
  const problem = body as { code?: unknown; detail?: unknown } | undefined;
  if (typeof problem?.code === 'string') {
    return typeof problem.detail === 'string' ? `${problem.code}: ${problem.detail}` : problem.code;
  }
  return '';
}

/** Customer and public requests: JSON in and out, each bounded in time. */
class SmokeHttp {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async request(
    method: 'GET' | 'POST',
    path: string,
    json?: object,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(json ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(json ? { body: JSON.stringify(json) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new SmokeFailure(
        `cannot reach the API at ${this.base}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause: error },
      );
    }
    const text = await response.text();
    try {
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    } catch {
      throw new SmokeFailure(`${method} ${path} answered ${response.status} with a body that is not JSON`);
    }
  }
}
