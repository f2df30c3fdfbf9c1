import { Agent, request } from 'node:http';
import { LOCAL_USAGE_PATH } from '../../local/api-server.js';
import type { UsageSnapshot } from '../../local/usage.js';
import type { PaymentLedgerEntry } from './invariants.js';

/** One HTTP exchange as the bench saw it. `status` 0: no response (connection error or timeout). */
export interface Exchange {
  readonly status: number;
  readonly body: string;
  /** Request start to last byte of the response, in milliseconds. */
  readonly ms: number;
  /** Wall clock (epoch ms) when the request was sent, to line up with database timestamps. */
  readonly sentAt: number;
  readonly error?: string;
}

/** How many exchanges got each answer: the status, or `error: <why>` when none came. */
export function answerCounts(exchanges: readonly Exchange[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const exchange of exchanges) {
    const key = exchange.status === 0 ? `error: ${exchange.error}` : String(exchange.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export interface CartLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface CheckoutBody {
  readonly items: readonly CartLine[];
  readonly currency: 'USD';
  readonly paymentMethod: string;
  readonly storeCreditCents: number;
}

export interface CheckoutExchange extends Exchange {
  /** Set on 202. */
  readonly orderId?: string;
  /** The problem `code` of a refusal. */
  readonly code?: string;
}

export interface ProviderFaults {
  readonly latencyMs?: number;
  readonly errorRate?: number;
  readonly voidFails?: boolean;
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The bench's client of the checkout API and the simulated provider's control endpoints.
 * node:http with keep-alive rather than fetch: on a 2-core machine the load generator shares the
 * CPU with the system under test, and the lighter client takes less of it.
 */
export class BenchClient {
  private readonly agent: Agent;

  constructor(
    readonly apiUrl: string,
    readonly providerUrl: string,
    maxSockets = 256,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 500 });
  }

  send(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<Exchange> {
    const sentAt = Date.now();
    const started = performance.now();
    return new Promise((resolve) => {
      const finish = (status: number, text: string, error?: string) =>
        resolve({
          status,
          body: text,
          ms: performance.now() - started,
          sentAt,
          ...(error ? { error } : {}),
        });
      const outgoing = request(
        url,
        {
          method,
          agent: this.agent,
          headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => finish(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
          response.on('error', (error) => finish(0, '', error.message));
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
      outgoing.on('error', (error) => finish(0, '', error.message));
      outgoing.end(body);
    });
  }

  async checkout(customerId: string, idempotencyKey: string, body: CheckoutBody): Promise<CheckoutExchange> {
    const exchange = await this.send(
      'POST',
      `${this.apiUrl}/v1/checkout`,
      {
        Authorization: `Bearer dev-${customerId}`,
        'Idempotency-Key': idempotencyKey,
        'Content-Type': 'application/json',
      },
      JSON.stringify(body),
    );
    const parsed = parseJson(exchange.body) as { orderId?: string; code?: string } | undefined;
    return {
      ...exchange,
      ...(exchange.status === 202 && parsed?.orderId ? { orderId: parsed.orderId } : {}),
      ...(parsed?.code ? { code: parsed.code } : {}),
    };
  }

  async putProduct(sku: string, product: { name: string; priceCents: number; onHand: number }) {
    await this.admin('PUT', `/v1/admin/products/${encodeURIComponent(sku)}`, { ...product, currency: 'USD' });
  }

  async putWallet(customerId: string, balanceCents: number) {
    await this.admin('PUT', `/v1/admin/wallets/${encodeURIComponent(customerId)}`, { balanceCents });
  }

  async setFaults(faults: ProviderFaults): Promise<void> {
    await this.expectOk(
      await this.send(
        'POST',
        `${this.providerUrl}/control/faults`,
        { 'Content-Type': 'application/json' },
        JSON.stringify(faults),
      ),
      'POST /control/faults',
    );
  }

  /** Clears every injected fault; `pm_void_fails` authorizations made before this can be voided now. */
  async clearFaults(): Promise<void> {
    await this.expectOk(
      await this.send('DELETE', `${this.providerUrl}/control/faults`),
      'DELETE /control/faults',
    );
  }

  async ledger(): Promise<PaymentLedgerEntry[]> {
    const exchange = await this.send('GET', `${this.providerUrl}/ledger`);
    await this.expectOk(exchange, 'GET /ledger');
    return (JSON.parse(exchange.body) as { entries: PaymentLedgerEntry[] }).entries;
  }

  /** What the local stack counted so far for the bill (local/usage.ts). */
  async usage(): Promise<UsageSnapshot> {
    const exchange = await this.send('GET', `${this.apiUrl}${LOCAL_USAGE_PATH}`);
    await this.expectOk(exchange, `GET ${LOCAL_USAGE_PATH}`);
    return JSON.parse(exchange.body) as UsageSnapshot;
  }

  close(): void {
    this.agent.destroy();
  }

  private async admin(method: string, pathname: string, body: object): Promise<void> {
    const exchange = await this.send(
      method,
      `${this.apiUrl}${pathname}`,
      { Authorization: 'Bearer admin', 'Content-Type': 'application/json' },
      JSON.stringify(body),
    );
    await this.expectOk(exchange, `${method} ${pathname}`);
  }

  private async expectOk(exchange: Exchange, what: string): Promise<void> {
    if (exchange.status < 200 || exchange.status > 299) {
      throw new Error(
        `${what} answered ${exchange.status || exchange.error}: ${exchange.body.slice(0, 300)}`,
      );
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
