import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as z from '../../src/runtime/schema.js';
import {
  authorize,
  capture,
  ledger,
  type OperationContext,
  type OperationResult,
  refund,
  retrieve,
  voidAuthorization,
} from './operations.js';
import { type ApiResponse, json, problem, validationProblem } from './responses.js';
import {
  authorizeRequest,
  captureRequest,
  faultsRequest,
  idempotencyKeyHeader,
  refundRequest,
  voidRequest,
} from './schemas.js';
import type { FaultState, LedgerOperation, ProviderStore, StoredResponse } from './store.js';

/** A request, independent of node:http or a Lambda function URL event. Header names lower case. */
export interface ProviderRequest {
  method: string;
  /** Path with optional query string, e.g. `/ledger?orderId=o-1`. */
  path: string;
  headers: Readonly<Record<string, string | undefined>>;
  body: string;
}

export interface ProviderResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Minimal logging surface (a Powertools `Logger` fits). */
export interface ProviderLogger {
  error(message: string, ...extra: unknown[]): void;
}

export interface ProviderDependencies {
  store: ProviderStore;
  /** Source of randomness for `errorRate`. @default Math.random */
  random?: () => number;
  /** @default () => new Date() */
  now?: () => Date;
  logger?: ProviderLogger;
  /**
   * The credential callers must send (`Authorization: Bearer <key>`), and on which routes: `all`
   * (the deployed function URL: payments, ledger, faults and health alike) or `payments` (locally,
   * where the ledger and fault controls on 127.0.0.1 stay open for tests and the walkthrough).
   * @default - no credential required
   */
  credential?: { readonly key: string; readonly scope: 'all' | 'payments' };
}

/** Whether the request carries the credential; compared in constant time. */
function authorized(request: ProviderRequest, key: string): boolean {
  const sent = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const [a, b] = [createHash('sha256').update(sent).digest(), createHash('sha256').update(key).digest()];
  return sent !== '' && timingSafeEqual(a, b);
}

/** One payment API route: how to read the body and which ledger operation it is. */
interface PaymentRoute<T> {
  operation: LedgerOperation;
  schema: z.ZodMiniType<T>;
  run(ctx: OperationContext, input: T): Promise<OperationResult>;
  /** Ledger identity of an attempt that fails before `run` (injected faults). */
  subject(ctx: OperationContext, input: T): Promise<{ orderId: string; amountCents: number } | undefined>;
}

const CAPTURE_PATH = /^\/v1\/authorizations\/([^/]+)\/capture$/;
const ORDER_PAYMENTS_PATH = /^\/v1\/orders\/([^/]+)\/payments$/;

/**
 * The simulated provider's request → response logic (docs/architecture.md, "The parts"), free of any HTTP framework so
 * it runs behind node:http locally and behind a Lambda function URL when deployed.
 *
 * Routes: `POST /v1/authorizations`, `POST /v1/authorizations/{id}/capture`, `POST /v1/voids`,
 * `POST /v1/refunds` (all need `Idempotency-Key`); `GET /v1/orders/{orderId}/payments` (retrieve);
 * `GET /ledger[?orderId=]`;
 * `GET|POST|DELETE /control/faults`; `GET /health`.
 *
 * `signal` must abort when the client goes away (or, in Lambda, shortly before the function times
 * out): `pm_auth_timeout` holds its answer until then, and injected latency ends early with it.
 * Unexpected errors become a 500 problem; the stack goes to the logger, never to the client.
 */
export async function handleProviderRequest(
  request: ProviderRequest,
  deps: ProviderDependencies,
  signal?: AbortSignal,
): Promise<ProviderResponse> {
  try {
    return toResponse(await route(request, deps, signal));
  } catch (error) {
    deps.logger?.error('simulated payment provider failed to handle a request', {
      method: request.method,
      path: request.path,
      error,
    });
    return toResponse(problem(500, 'INTERNAL_ERROR', 'the provider failed unexpectedly'));
  }
}

async function route(
  request: ProviderRequest,
  deps: ProviderDependencies,
  signal: AbortSignal | undefined,
): Promise<ApiResponse & { replayed?: boolean }> {
  const url = new URL(request.path, 'http://provider.invalid');
  const { pathname } = url;
  const method = request.method.toUpperCase();
  const { store } = deps;
  const credential = deps.credential;
  if (
    credential &&
    (credential.scope === 'all' || pathname.startsWith('/v1/')) &&
    !authorized(request, credential.key)
  ) {
    return problem(401, 'UNAUTHORIZED', 'send the provider credential as Authorization: Bearer <key>');
  }

  if (pathname === '/health') {
    return method === 'GET' ? json(200, { status: 'ok' }) : methodNotAllowed(method, pathname);
  }
  if (pathname === '/ledger') {
    if (method !== 'GET') return methodNotAllowed(method, pathname);
    const orderId = url.searchParams.get('orderId');
    const entries = await store.listLedgerEntries();
    return json(200, { entries: orderId ? entries.filter((e) => e.orderId === orderId) : entries });
  }
  if (pathname === '/control/faults') {
    if (method === 'GET') return json(200, publicFaults(await store.getFaults()));
    if (method === 'DELETE') return json(200, publicFaults(await store.clearFaults()));
    if (method !== 'POST') return methodNotAllowed(method, pathname);
    const patch = parseBody(request.body, faultsRequest, 'fault settings');
    if ('response' in patch) return patch.response;
    return json(200, publicFaults(await store.setFaults(patch.value)));
  }

  const payment = <T>(paymentRoute: PaymentRoute<T>) =>
    method === 'POST'
      ? handlePayment(request, pathname, paymentRoute, deps, signal)
      : methodNotAllowed(method, pathname);
  if (pathname === '/v1/authorizations') return payment(authorizeRoute);
  if (pathname === '/v1/voids') return payment(voidRoute);
  if (pathname === '/v1/refunds') return payment(refundRoute);
  const authorizationId = CAPTURE_PATH.exec(pathname)?.[1];
  if (authorizationId) return payment(captureRoute(safeDecode(authorizationId)));
  const orderId = ORDER_PAYMENTS_PATH.exec(pathname)?.[1];
  if (orderId) {
    if (method !== 'GET') return methodNotAllowed(method, pathname);
    // A read is as exposed to the provider's faults as any other call.
    const { random = Math.random } = deps;
    const faults = await store.getFaults();
    if (faults.latencyMs > 0) await pause(faults.latencyMs, signal);
    if (faults.errorRate > 0 && random() < faults.errorRate) {
      return problem(503, 'PROVIDER_UNAVAILABLE', 'injected fault (errorRate)');
    }
    return retrieve({ store }, safeDecode(orderId));
  }
  return problem(404, 'NOT_FOUND', `no route ${pathname}`);
}

const authorizeRoute: PaymentRoute<z.infer<typeof authorizeRequest>> = {
  operation: 'authorize',
  schema: authorizeRequest,
  run: authorize,
  subject: async (_ctx, input) => input,
};

const voidRoute: PaymentRoute<z.infer<typeof voidRequest>> = {
  operation: 'void',
  schema: voidRequest,
  run: voidAuthorization,
  subject: async (_ctx, input) => ({ orderId: input.orderId, amountCents: 0 }),
};

const refundRoute: PaymentRoute<z.infer<typeof refundRequest>> = {
  operation: 'refund',
  schema: refundRequest,
  run: refund,
  subject: async (_ctx, input) => input,
};

function captureRoute(authorizationId: string): PaymentRoute<z.infer<typeof captureRequest>> {
  return {
    operation: 'capture',
    schema: captureRequest,
    run: (ctx, input) => capture(ctx, authorizationId, input),
    subject: async (ctx, input) => {
      const authorization = await ctx.store.getAuthorization(authorizationId);
      return authorization && { orderId: authorization.orderId, amountCents: input.amountCents };
    },
  };
}

/**
 * Latency, key and body checks, injected errors, then idempotency (Stripe semantics): a known key
 * with the same request replays the first answer without running again; with another request it
 * is a 422; while the first is still running it is a 409.
 */
async function handlePayment<T>(
  request: ProviderRequest,
  pathname: string,
  payment: PaymentRoute<T>,
  deps: ProviderDependencies,
  signal: AbortSignal | undefined,
): Promise<ApiResponse & { replayed?: boolean }> {
  const { store, random = Math.random, now = () => new Date() } = deps;
  const faults = await store.getFaults();
  if (faults.latencyMs > 0) await pause(faults.latencyMs, signal);

  const key = idempotencyKeyHeader.safeParse(request.headers['idempotency-key']);
  if (!key.success) {
    return problem(
      400,
      'IDEMPOTENCY_KEY_REQUIRED',
      'the Idempotency-Key header (1-255 characters) is required',
    );
  }
  const input = parseBody(request.body, payment.schema, 'request body');
  if ('response' in input) return input.response;

  const ctx: OperationContext = { store, faults, idempotencyKey: key.data, now };
  if (faults.errorRate > 0 && random() < faults.errorRate) {
    const subject = await payment.subject(ctx, input.value);
    if (subject) await ledger(ctx, payment.operation, subject.orderId, subject.amountCents)('failed', null);
    return problem(503, 'PROVIDER_UNAVAILABLE', 'injected fault (errorRate)');
  }

  const fingerprint = `${pathname} ${JSON.stringify(input.value)}`;
  const existing = await store.claimIdempotencyKey(key.data, fingerprint);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      return problem(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    }
    if (existing.state === 'in-progress') {
      return problem(409, 'IDEMPOTENCY_KEY_IN_USE', 'a request with this Idempotency-Key is still running');
    }
    return { ...(await replay(existing.response, signal)), replayed: true };
  }

  let result: OperationResult;
  try {
    result = await payment.run(ctx, input.value);
  } catch (error) {
    await store.releaseIdempotencyKey(key.data);
    throw error;
  }
  if (result.kind === 'retryable') {
    await store.releaseIdempotencyKey(key.data);
    return result.response;
  }
  const remembered: StoredResponse =
    result.kind === 'hold' ? { kind: 'hold' } : { kind: 'response', ...result.response };
  await store.completeIdempotencyKey(key.data, remembered);
  return replay(remembered, signal);
}

/** Turns a remembered answer back into a response; a remembered hold holds again. */
async function replay(response: StoredResponse, signal: AbortSignal | undefined): Promise<ApiResponse> {
  if (response.kind === 'response') {
    return {
      status: response.status,
      contentType:
        response.contentType === 'application/json' ? 'application/json' : 'application/problem+json',
      body: response.body,
    };
  }
  await untilAborted(signal);
  // Nobody is listening any more (or Lambda is about to time out); answer like a gateway would.
  return problem(504, 'NO_ANSWER', 'the authorization is held open by pm_auth_timeout');
}

function parseBody<T>(
  raw: string,
  schema: z.ZodMiniType<T>,
  what: string,
): { value: T } | { response: ApiResponse } {
  let data: unknown;
  try {
    data = raw.trim() === '' ? undefined : JSON.parse(raw);
  } catch {
    return { response: problem(400, 'MALFORMED_JSON', `${what} is not valid JSON`) };
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? { value: parsed.data } : { response: validationProblem(parsed.error, what) };
}

function toResponse(response: ApiResponse & { replayed?: boolean }): ProviderResponse {
  const headers: Record<string, string> = { 'content-type': response.contentType };
  if (response.replayed) headers['idempotent-replayed'] = 'true';
  return { status: response.status, headers, body: JSON.stringify(response.body) };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape simply names no known authorization
  }
}

function methodNotAllowed(method: string, pathname: string): ApiResponse {
  return problem(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`);
}

function publicFaults({ latencyMs, errorRate, voidFails }: FaultState) {
  return { latencyMs, errorRate, voidFails };
}

/** Injected latency; ends early (without error) when the client is gone. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** Resolves when `signal` aborts; without a signal, never (the platform's timeout ends it). */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
