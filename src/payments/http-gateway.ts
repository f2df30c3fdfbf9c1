import { invocationTimeLeftMs } from '../runtime/deadline.js';
import * as z from '../runtime/schema.js';
import {
  type BreakerState,
  createPaymentCircuitBreaker,
  type PaymentBreakerOptions,
} from './circuit-breaker.js';
import {
  PaymentProviderAuthenticationError,
  PaymentProviderTransientError,
  PaymentRejectedError,
  PaymentTimeoutError,
} from './errors.js';
import type {
  AuthorizeInput,
  AuthorizeOutcome,
  CaptureInput,
  PaymentGateway,
  ProviderPaymentState,
  RefundInput,
  VoidInput,
} from './gateway.js';

export interface HttpPaymentGatewayOptions {
  /** Base URL of the provider, e.g. `http://127.0.0.1:4010`. */
  baseUrl: string;
  /** Hard client-side timeout per call, body included. @default 15_000 */
  timeoutMs?: number;
  /** Circuit breaker tuning. @default docs/adr/0006: 5 failures, 60 s, 2 successes */
  breaker?: PaymentBreakerOptions;
  /** Injected for tests. @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * The provider credential, sent as `Authorization: Bearer` on every call; asked for on each call
   * so that it can come from a per-container cache (`src/runtime/secrets.ts`). @default - none
   */
  credential?: () => Promise<string>;
  /**
   * The credential read afresh (past any cache), asked for once when the provider refuses the one
   * `credential` gave (401/403, e.g. after a key rotation); the call is then sent again with it.
   * @default - none: a refused credential is a {@link PaymentProviderAuthenticationError} at once
   */
  refreshCredential?: () => Promise<string>;
  /**
   * What each call leaves of the invocation for the work after it (recording the provider's answer):
   * a call gets at most the time left minus this, so the invocation never ends in the middle of its
   * records (docs/adr/0020). @default 0
   */
  deadlineReserveMs?: number;
  /** The invocation's time left, `undefined` outside one. @default the invocation's (src/runtime/deadline.ts) */
  timeLeftMs?: () => number | undefined;
}

/** The HTTP adapter, plus the breaker state for readiness checks. */
export interface HttpPaymentGateway extends PaymentGateway {
  breakerState(): BreakerState;
}

/** The shortest provider call worth sending: less than this left, the call is not sent at all. */
const MINIMUM_CALL_MS = 500;

/** A provider answer below 500: a result or a refusal, either way the provider is up. */
interface ProviderReply {
  /** The request it answers, `METHOD path`, for error messages. */
  what: string;
  status: number;
  body: unknown;
}

const nonEmpty = z.string().check(z.minLength(1));
const authorizedBody = z.object({ outcome: z.literal('authorized'), authorizationId: nonEmpty });
const declinedBody = z.object({ outcome: z.literal('declined'), reason: z.string() });
const captureBody = z.object({ captureId: nonEmpty });
const voidBody = z.object({ voided: z.boolean() });
const refundBody = z.object({ refundId: nonEmpty });
const cents = z.int().check(z.minimum(0));
const paymentStateBody = z.object({
  orderId: z.string(),
  authorizations: z.array(
    z.object({
      authorizationId: nonEmpty,
      status: z.enum(['authorized', 'captured', 'voided']),
      amountCents: cents,
      capturedCents: cents,
      refundedCents: cents,
      captureId: z.nullable(z.string()),
    }),
  ),
});
const problemBody = z.object({ code: z.optional(z.string()), detail: z.optional(z.string()) });

/**
 * Creates the {@link PaymentGateway} adapter for the (simulated) provider's HTTP API.
 * Every call has a hard timeout and goes through one circuit breaker per gateway instance, so
 * create the gateway once per container and share it.
 */
export function createHttpPaymentGateway(options: HttpPaymentGatewayOptions): HttpPaymentGateway {
  const {
    timeoutMs = 15_000,
    fetch: fetchImpl = globalThis.fetch,
    deadlineReserveMs = 0,
    timeLeftMs = invocationTimeLeftMs,
  } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const breaker = createPaymentCircuitBreaker(options.breaker);

  /**
   * The time one call may take: the client timeout, or less when the invocation has less left than
   * the call and the records after it need. Throws, sending nothing, when nothing is left.
   */
  function callTimeoutMs(what: string): number {
    const left = timeLeftMs();
    if (left === undefined) return timeoutMs;
    const allowed = Math.min(timeoutMs, Math.floor(left - deadlineReserveMs));
    if (allowed < Math.min(timeoutMs, MINIMUM_CALL_MS)) {
      throw new PaymentTimeoutError(
        `${what}: not sent, ${Math.max(0, Math.floor(left))} ms left of the invocation and ${deadlineReserveMs} ms kept for its records`,
        { timeoutMs: 0 },
      );
    }
    return allowed;
  }

  /**
   * One request/response within the call's time, sent once more with the credential read afresh
   * when the provider refuses the one we had. Throws only transient, timeout and authentication
   * errors. A request with a body is a POST with its idempotency key; one without is a read (GET).
   */
  async function exchange(
    path: string,
    request: { body: unknown; idempotencyKey: string } | undefined,
    allowedMs: number,
  ): Promise<ProviderReply> {
    const what = `${request ? 'POST' : 'GET'} ${path}`;
    const signal = AbortSignal.timeout(allowedMs);
    const key = options.credential ? await options.credential() : undefined;
    const first = await send(what, path, request, signal, allowedMs, key);
    if (first.status !== 401 && first.status !== 403) return first;
    // A refused credential says nothing about the payment: our key is wrong or was just rotated.
    // Read it afresh once and send the same request (same idempotency key) again.
    const fresh = options.refreshCredential ? await options.refreshCredential() : undefined;
    const second =
      fresh !== undefined && fresh !== key
        ? await send(what, path, request, signal, allowedMs, fresh)
        : first;
    if (second.status !== 401 && second.status !== 403) return second;
    throw new PaymentProviderAuthenticationError(
      `${what}: the provider refused our credential (${second.status}), also after reading it again`,
      { status: second.status, cause: second.body },
    );
  }

  /** Sends one request; a 5xx or no answer in time is thrown, every other answer returned. */
  async function send(
    what: string,
    path: string,
    request: { body: unknown; idempotencyKey: string } | undefined,
    signal: AbortSignal,
    allowedMs: number,
    key: string | undefined,
  ): Promise<ProviderReply> {
    let status: number;
    let text: string;
    try {
      const response = await fetchImpl(`${baseUrl}${path}`, {
        signal,
        ...(request
          ? {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'idempotency-key': request.idempotencyKey,
                ...(key ? { authorization: `Bearer ${key}` } : {}),
              },
              body: JSON.stringify(request.body),
            }
          : { method: 'GET', ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}) }),
      });
      status = response.status;
      text = await response.text(); // inside the try: a body that never ends is a timeout too
    } catch (error) {
      if (signal.aborted) {
        throw new PaymentTimeoutError(`${what}: no answer within ${allowedMs} ms`, {
          cause: error,
          timeoutMs: allowedMs,
        });
      }
      throw new PaymentProviderTransientError(`${what}: provider unreachable`, { cause: error });
    }
    if (status >= 500) {
      throw new PaymentProviderTransientError(`${what}: provider answered ${status}`, {
        status,
        cause: parseJson(text),
      });
    }
    return { what, status, body: parseJson(text) };
  }

  /**
   * Sends a request through the breaker (one per gateway), so an open circuit never reaches fetch.
   * An authentication error passes through it uncounted: it is not an outage; nor is a call the
   * invocation has no time left for, which is refused before the breaker.
   */
  function call(path: string, request?: { body: unknown; idempotencyKey: string }): Promise<ProviderReply> {
    const allowedMs = callTimeoutMs(`${request ? 'POST' : 'GET'} ${path}`);
    return breaker.execute(() => exchange(path, request, allowedMs));
  }

  function post(path: string, body: unknown, idempotencyKey: string): Promise<ProviderReply> {
    return call(path, { body, idempotencyKey });
  }

  return {
    async authorize(input: AuthorizeInput): Promise<AuthorizeOutcome> {
      const { idempotencyKey, ...body } = input;
      const path = '/v1/authorizations';
      const reply = await post(path, body, idempotencyKey);
      if (reply.status === 402) {
        const declined = declinedBody.safeParse(reply.body);
        return { outcome: 'DECLINED', reason: declined.success ? declined.data.reason : 'declined' };
      }
      const { authorizationId } = read(reply, authorizedBody);
      return { outcome: 'AUTHORIZED', authorizationId };
    },

    async capture(input: CaptureInput): Promise<{ captureId: string }> {
      const path = `/v1/authorizations/${encodeURIComponent(input.authorizationId)}/capture`;
      const reply = await post(path, { amountCents: input.amountCents }, input.idempotencyKey);
      const { captureId } = read(reply, captureBody);
      return { captureId };
    },

    async void(input: VoidInput): Promise<{ voided: boolean }> {
      const body = { orderId: input.orderId, authorizationId: input.authorizationId };
      const reply = await post('/v1/voids', body, input.idempotencyKey);
      const { voided } = read(reply, voidBody);
      return { voided };
    },

    async refund(input: RefundInput): Promise<{ refundId: string }> {
      const { idempotencyKey, ...body } = input;
      const reply = await post('/v1/refunds', body, idempotencyKey);
      const { refundId } = read(reply, refundBody);
      return { refundId };
    },

    async retrieve({ orderId }: { orderId: string }): Promise<ProviderPaymentState> {
      const path = `/v1/orders/${encodeURIComponent(orderId)}/payments`;
      const reply = await call(path);
      return read(reply, paymentStateBody);
    },

    breakerState: () => breaker.state(),
  };
}

/**
 * Reads a 2xx body, or turns any other reply into a {@link PaymentRejectedError}. Runs outside the
 * breaker on purpose: a refusal means the provider is up, so it must not count as a failure.
 */
function read<T>(reply: ProviderReply, schema: z.ZodMiniType<T>): T {
  if (reply.status < 200 || reply.status >= 300) {
    const refusal = rejection(reply);
    // The same key is still running (e.g. a retry overtook a slow first attempt): try again later.
    if (refusal.code === 'IDEMPOTENCY_KEY_IN_USE') {
      throw new PaymentProviderTransientError(refusal.message, { status: reply.status, cause: refusal });
    }
    throw refusal;
  }
  const parsed = schema.safeParse(reply.body);
  if (!parsed.success) {
    // A 2xx we cannot read is the provider misbehaving, not our request being wrong.
    throw new PaymentProviderTransientError(`${reply.what}: unexpected response body`, {
      status: reply.status,
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function rejection(reply: ProviderReply): PaymentRejectedError {
  const problem = problemBody.safeParse(reply.body);
  const code = problem.success ? problem.data.code : undefined;
  const detail = problem.success && problem.data.detail ? `: ${problem.data.detail}` : '';
  return new PaymentRejectedError(
    `${reply.what}: provider refused with ${reply.status} ${code ?? ''}${detail}`,
    {
      status: reply.status,
      code,
      cause: reply.body,
    },
  );
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // keep what the provider said for the error's cause
  }
}
