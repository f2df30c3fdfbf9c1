import { OnHandBelowReservedError } from '../db/catalog.js';
import { DatabaseUnavailableError } from '../db/errors.js';
import { OrderNotFoundError } from '../domain/errors.js';

/**
 * The one place that turns outcomes and errors into `application/problem+json` (RFC 9457).
 *
 * `code` is the stable, machine-readable part of the contract: clients branch on it, the OpenAPI
 * document lists it per response (`x-problem-codes`) and the tests prove every code is produced.
 * Titles are human-readable and may change; codes may not.
 */
export const PROBLEMS = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, title: 'A valid Idempotency-Key header is required' },
  UNAUTHORIZED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  ORDER_NOT_FOUND: { status: 404, title: 'Order not found' },
  PRODUCT_NOT_FOUND: { status: 404, title: 'Product not found' },
  WALLET_NOT_FOUND: { status: 404, title: 'Wallet not found' },
  COMPENSATION_NOT_FOUND: { status: 404, title: 'Compensation not found' },
  UNKNOWN_SKU: { status: 404, title: 'The cart names products that do not exist' },
  OUT_OF_STOCK: { status: 409, title: 'Not enough stock' },
  INSUFFICIENT_STORE_CREDIT: { status: 409, title: 'Not enough store credit' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is still in progress' },
  ON_HAND_BELOW_RESERVED: { status: 409, title: 'On-hand stock cannot go below the reserved quantity' },
  COMPENSATION_ALREADY_RESOLVED: { status: 409, title: 'The compensation is already resolved' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be JSON' },
  // 422, not 409: the request is well formed but can never succeed as written (same key, other body).
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The Idempotency-Key was used with a different request' },
  // 422, not 409: the cart's currency contradicts the catalog; retrying the same request cannot help,
  // only a different request can.
  CURRENCY_MISMATCH: { status: 422, title: 'The cart currency does not match the product prices' },
  STORE_CREDIT_EXCEEDS_TOTAL: { status: 422, title: 'Store credit exceeds the order total' },
  // Produced by API Gateway (stage and usage-plan throttling), never by a handler.
  THROTTLED: { status: 429, title: 'Too many requests' },
  // A customer's own limit (src/api/customer-limits.ts), or the firewall's per-token and per-IP rules.
  RATE_LIMITED: { status: 429, title: 'Too many requests from this customer' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service temporarily unavailable' },
  CHECKOUT_PAUSED: { status: 503, title: 'Checkout is paused' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export const PROBLEM_CODES = Object.keys(PROBLEMS) as ProblemCode[];

/** A field-level validation error; `path` is a JSON Pointer (RFC 6901) into the request. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** Extension members a problem may carry besides the RFC 9457 ones. */
export interface ProblemExtensions {
  readonly errors?: readonly FieldError[];
  readonly skus?: readonly string[];
  readonly lines?: readonly { sku: string; requested: number; available: number }[];
  readonly totalCents?: number;
  readonly balanceCents?: number;
}

/** Seconds a client should wait before retrying, for the codes that invite a retry. */
const RETRY_AFTER_SECONDS: Partial<Record<ProblemCode, number>> = {
  IDEMPOTENCY_KEY_IN_USE: 1,
  THROTTLED: 1,
  RATE_LIMITED: 60,
  SERVICE_UNAVAILABLE: 2,
  // An operator's stop lasts minutes, not seconds: clients back off rather than hammer it.
  CHECKOUT_PAUSED: 30,
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An HTTP response as the handlers build it, before the correlation header is added. */
export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The problem code when this is a problem response: for logs and metrics, never sent as a header. */
  readonly code?: ProblemCode;
}

/** The problem type URI of a code: a URN, stable and not pretending to be a web page. */
export function problemType(code: ProblemCode): string {
  return `urn:problem:checkout:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** The JSON body of a problem, members in a fixed order so equal problems are equal bytes. */
export function problemBody(code: ProblemCode, detail: string, extensions: ProblemExtensions = {}): string {
  const { status, title } = PROBLEMS[code];
  return JSON.stringify({ type: problemType(code), title, status, detail, code, ...extensions });
}

/** A complete problem response, with `Retry-After` where the code invites a retry. */
export function problemResponse(
  code: ProblemCode,
  detail: string,
  extensions: ProblemExtensions = {},
  retryAfterSeconds: number | undefined = RETRY_AFTER_SECONDS[code],
): HttpResponse {
  return {
    statusCode: PROBLEMS[code].status,
    headers: {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      ...(retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) }),
    },
    body: problemBody(code, detail, extensions),
    code,
  };
}

/**
 * Thrown by request parsing (identity, headers, body) to end a request with a problem. Handlers
 * and the HTTP wrapper let it travel; {@link problemFromError} renders it.
 */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  /** Overrides the code's usual `Retry-After`, e.g. the seconds left in a rate-limit window. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extensions: ProblemExtensions = {},
    options?: ErrorOptions & { readonly retryAfterSeconds?: number },
  ) {
    super(`${code}: ${detail}`, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** What an error means to a client, and whether it is worth an error-level log line. */
export interface ClassifiedError {
  readonly response: HttpResponse;
  /** True for failures of the service itself (5xx), false for what the client asked for. */
  readonly serverFault: boolean;
}

const GENERIC_DETAIL: Partial<Record<ProblemCode, string>> = {
  INTERNAL_ERROR: 'An unexpected error occurred. It has been logged with the correlation id of this request.',
  SERVICE_UNAVAILABLE: 'A dependency of the service is unavailable. Retry the same request later.',
  IDEMPOTENCY_KEY_IN_USE:
    'A request with this Idempotency-Key is still being processed. Retry after the delay in Retry-After.',
  IDEMPOTENCY_KEY_REUSED:
    'This Idempotency-Key was already used with a different request body. Use a new key for a new request.',
};

function generic(code: ProblemCode): HttpResponse {
  return problemResponse(code, GENERIC_DETAIL[code] ?? PROBLEMS[code].title);
}

/**
 * Maps any error to a problem response. Only {@link ProblemError}s carry client-visible detail;
 * every other error gets a fixed, generic detail, so raw messages and stack traces never leave the
 * service (they go to the log, with the correlation id).
 */
export function problemFromError(error: unknown): ClassifiedError {
  if (error instanceof ProblemError) {
    return {
      response: problemResponse(
        error.code,
        error.detail,
        error.extensions,
        error.retryAfterSeconds ?? RETRY_AFTER_SECONDS[error.code],
      ),
      serverFault: PROBLEMS[error.code].status >= 500,
    };
  }
  // Powertools idempotency errors are matched by name: a second copy of the package in
  // node_modules would defeat `instanceof`.
  switch (errorName(error)) {
    case 'IdempotencyAlreadyInProgressError':
      return { response: generic('IDEMPOTENCY_KEY_IN_USE'), serverFault: false };
    case 'IdempotencyValidationError':
      return { response: generic('IDEMPOTENCY_KEY_REUSED'), serverFault: false };
    case 'IdempotencyPersistenceLayerError':
    case 'IdempotencyInconsistentStateError':
    case 'IdempotencyPersistenceConsistencyError':
    // The key's record went between the write it refused and the read of it (its first attempt
    // failed and gave it up): the key is free again, so the request is retried, not failed.
    case 'IdempotencyItemNotFoundError':
      return { response: generic('SERVICE_UNAVAILABLE'), serverFault: true };
  }
  if (error instanceof OnHandBelowReservedError) {
    return {
      response: problemResponse(
        'ON_HAND_BELOW_RESERVED',
        `On-hand stock of ${error.sku} cannot be set below the quantity reserved by open orders.`,
      ),
      serverFault: false,
    };
  }
  if (error instanceof OrderNotFoundError) {
    return { response: problemResponse('ORDER_NOT_FOUND', 'No such order.'), serverFault: false };
  }
  if (error instanceof DatabaseUnavailableError) {
    return { response: generic('SERVICE_UNAVAILABLE'), serverFault: true };
  }
  return { response: generic('INTERNAL_ERROR'), serverFault: true };
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * API Gateway's own error responses (it answers them without invoking a handler), rendered as
 * the same problems so clients parse one error format. The CDK API construct installs these as
 * `GatewayResponse`s: `statusCode`, the `body` as the `application/json` template, and the headers.
 */
export interface GatewayProblem {
  /** API Gateway's `ResponseType`. */
  readonly responseType:
    | 'THROTTLED'
    | 'QUOTA_EXCEEDED'
    | 'UNAUTHORIZED'
    | 'EXPIRED_TOKEN'
    | 'ACCESS_DENIED'
    | 'INVALID_SIGNATURE'
    | 'MISSING_AUTHENTICATION_TOKEN'
    | 'INVALID_API_KEY'
    | 'BAD_REQUEST_BODY'
    | 'BAD_REQUEST_PARAMETERS'
    | 'REQUEST_TOO_LARGE'
    | 'INTEGRATION_TIMEOUT'
    | 'DEFAULT_5XX';
  readonly statusCode: number;
  readonly code: ProblemCode;
  /** The problem's `detail`, before API Gateway appends its request id. */
  readonly detail: string;
  readonly body: string;
  /** Header name → API Gateway mapping expression (static values are single-quoted). */
  readonly headers: Readonly<Record<string, string>>;
}

function gatewayProblem(
  responseType: GatewayProblem['responseType'],
  code: ProblemCode,
  detail: string,
): GatewayProblem {
  const response = problemResponse(code, detail);
  const headers: Record<string, string> = {
    'Content-Type': `'${PROBLEM_CONTENT_TYPE}'`,
    // A gateway response cannot generate an id; it echoes the client's, as the handlers do.
    'X-Correlation-Id': 'method.request.header.X-Correlation-Id',
  };
  const retryAfter = response.headers['Retry-After'];
  if (retryAfter) headers['Retry-After'] = `'${retryAfter}'`;
  return { responseType, statusCode: response.statusCode, code, detail, body: response.body, headers };
}

/**
 * Errors API Gateway makes itself, in the API's own format, so a client cannot tell whether the
 * gateway or a handler refused it. The CDK API construct reads this, and so can anything that stands in for the gateway.
 */
export const GATEWAY_PROBLEMS: readonly GatewayProblem[] = [
  gatewayProblem(
    'THROTTLED',
    'THROTTLED',
    'Request rate limit exceeded. Retry after the delay in Retry-After.',
  ),
  gatewayProblem('QUOTA_EXCEEDED', 'THROTTLED', 'Request quota exceeded for this client.'),
  gatewayProblem('UNAUTHORIZED', 'UNAUTHORIZED', 'A valid bearer token is required.'),
  gatewayProblem('EXPIRED_TOKEN', 'UNAUTHORIZED', 'The token has expired.'),
  gatewayProblem('ACCESS_DENIED', 'FORBIDDEN', 'The caller is not allowed to use this route.'),
  gatewayProblem('INVALID_SIGNATURE', 'FORBIDDEN', 'The request signature is not valid.'),
  gatewayProblem(
    'MISSING_AUTHENTICATION_TOKEN',
    'FORBIDDEN',
    'The request is not signed or the route does not exist.',
  ),
  gatewayProblem('INVALID_API_KEY', 'FORBIDDEN', 'A valid x-api-key header is required.'),
  gatewayProblem('BAD_REQUEST_BODY', 'VALIDATION_FAILED', 'The request body must be a JSON object.'),
  gatewayProblem('BAD_REQUEST_PARAMETERS', 'VALIDATION_FAILED', 'A required request parameter is missing.'),
  gatewayProblem('REQUEST_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 'The request body is too large.'),
  // A handler that timed out or crashed never rendered its own problem: answer in the same format.
  gatewayProblem(
    'INTEGRATION_TIMEOUT',
    'SERVICE_UNAVAILABLE',
    'The request took too long. Retry after the delay in Retry-After.',
  ),
  gatewayProblem('DEFAULT_5XX', 'INTERNAL_ERROR', 'The request could not be completed.'),
];
