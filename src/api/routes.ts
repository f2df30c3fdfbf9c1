import type { ProblemCode } from './problems.js';

/**
 * The HTTP API's route table: the single list the OpenAPI test, the CDK API construct and
 * anything that stands in for API Gateway read, so a route cannot exist in one and be missing from another.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT';

/**
 * - `customer`: a Cognito user-pool JWT (`Authorization: Bearer`); the customer is its `sub`.
 * - `admin`: IAM (SigV4).
 * - `none`: public (health checks).
 */
export type RouteAuth = 'customer' | 'admin' | 'none';

export interface ApiRoute {
  /** Also the OpenAPI `operationId`. */
  readonly operationId: string;
  readonly method: HttpMethod;
  /** API Gateway resource path, as in OpenAPI (`{name}` parameters). */
  readonly path: string;
  readonly auth: RouteAuth;
  /** The request carries a JSON body (API Gateway validates it is an object). @default method !== 'GET' */
  readonly jsonBody?: boolean;
  /** The handler module, relative to the repository root (the CDK function `entry`). */
  readonly entry: string;
  /** The module's export that is the Lambda handler. */
  readonly handler: string;
  /**
   * Every status the handler answers with, and for problem responses the `code`s it may carry
   * (an empty list: not a problem body). The OpenAPI document must list exactly these.
   */
  readonly responses: Readonly<Record<number, readonly ProblemCode[]>>;
  /** Statuses API Gateway answers with by itself for this route (throttling, sizes, auth). */
  readonly gatewayResponses: Readonly<Record<number, readonly ProblemCode[]>>;
}

/**
 * API Gateway throttling (stage, usage plan) and the firewall's rate rules (per IP, per bearer
 * token) answer before any handler runs, on every route.
 */
const THROTTLING = { 429: ['THROTTLED', 'RATE_LIMITED'] } as const;
const ADMIN_COMMON = {
  401: ['UNAUTHORIZED'],
  403: ['FORBIDDEN'],
  500: ['INTERNAL_ERROR'],
  503: ['SERVICE_UNAVAILABLE'],
} as const;

export const API_ROUTES: readonly ApiRoute[] = [
  {
    operationId: 'placeOrder',
    method: 'POST',
    path: '/v1/checkout',
    auth: 'customer',
    entry: 'lambdas/api/checkout.ts',
    handler: 'handler',
    responses: {
      202: [],
      400: ['VALIDATION_FAILED', 'IDEMPOTENCY_KEY_REQUIRED'],
      401: ['UNAUTHORIZED'],
      404: ['UNKNOWN_SKU'],
      409: ['OUT_OF_STOCK', 'INSUFFICIENT_STORE_CREDIT', 'IDEMPOTENCY_KEY_IN_USE'],
      413: ['PAYLOAD_TOO_LARGE'],
      415: ['UNSUPPORTED_MEDIA_TYPE'],
      422: ['IDEMPOTENCY_KEY_REUSED', 'CURRENCY_MISMATCH', 'STORE_CREDIT_EXCEEDS_TOTAL'],
      429: ['RATE_LIMITED'],
      500: ['INTERNAL_ERROR'],
      503: ['SERVICE_UNAVAILABLE', 'CHECKOUT_PAUSED'],
    },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getOrder',
    method: 'GET',
    path: '/v1/orders/{orderId}',
    auth: 'customer',
    entry: 'lambdas/api/orders.ts',
    handler: 'handler',
    responses: {
      200: [],
      401: ['UNAUTHORIZED'],
      404: ['ORDER_NOT_FOUND'],
      429: ['RATE_LIMITED'],
      500: ['INTERNAL_ERROR'],
      503: ['SERVICE_UNAVAILABLE'],
    },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getLiveness',
    method: 'GET',
    path: '/health/live',
    auth: 'none',
    entry: 'lambdas/api/health.ts',
    handler: 'liveHandler',
    responses: { 200: [] },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getReadiness',
    method: 'GET',
    path: '/health/ready',
    auth: 'none',
    entry: 'lambdas/api/health.ts',
    handler: 'readyHandler',
    responses: { 200: [], 503: [] },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'putProduct',
    method: 'PUT',
    path: '/v1/admin/products/{sku}',
    auth: 'admin',
    entry: 'lambdas/api/admin.ts',
    handler: 'putProductHandler',
    responses: {
      200: [],
      400: ['VALIDATION_FAILED'],
      409: ['ON_HAND_BELOW_RESERVED'],
      413: ['PAYLOAD_TOO_LARGE'],
      415: ['UNSUPPORTED_MEDIA_TYPE'],
      ...ADMIN_COMMON,
    },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getProduct',
    method: 'GET',
    path: '/v1/admin/products/{sku}',
    auth: 'admin',
    entry: 'lambdas/api/admin.ts',
    handler: 'getProductHandler',
    responses: { 200: [], 404: ['PRODUCT_NOT_FOUND'], ...ADMIN_COMMON },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'putWallet',
    method: 'PUT',
    path: '/v1/admin/wallets/{customerId}',
    auth: 'admin',
    entry: 'lambdas/api/admin.ts',
    handler: 'putWalletHandler',
    responses: {
      200: [],
      400: ['VALIDATION_FAILED'],
      413: ['PAYLOAD_TOO_LARGE'],
      415: ['UNSUPPORTED_MEDIA_TYPE'],
      ...ADMIN_COMMON,
    },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getWallet',
    method: 'GET',
    path: '/v1/admin/wallets/{customerId}',
    auth: 'admin',
    entry: 'lambdas/api/admin.ts',
    handler: 'getWalletHandler',
    responses: { 200: [], 404: ['WALLET_NOT_FOUND'], ...ADMIN_COMMON },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'listCompensations',
    method: 'GET',
    path: '/v1/admin/compensations',
    auth: 'admin',
    entry: 'lambdas/api/admin.ts',
    handler: 'listCompensationsHandler',
    responses: { 200: [], 400: ['VALIDATION_FAILED'], ...ADMIN_COMMON },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'retryCompensation',
    method: 'POST',
    path: '/v1/admin/compensations/{compensationId}/retry',
    auth: 'admin',
    // An action on the resource: everything it needs is in the path.
    jsonBody: false,
    entry: 'lambdas/api/operations.ts',
    handler: 'retryCompensationHandler',
    responses: {
      202: [],
      404: ['COMPENSATION_NOT_FOUND'],
      409: ['COMPENSATION_ALREADY_RESOLVED'],
      ...ADMIN_COMMON,
    },
    gatewayResponses: THROTTLING,
  },
  {
    operationId: 'getAdminOrder',
    method: 'GET',
    path: '/v1/admin/orders/{orderId}',
    auth: 'admin',
    entry: 'lambdas/api/operations.ts',
    handler: 'getAdminOrderHandler',
    responses: { 200: [], 404: ['ORDER_NOT_FOUND'], ...ADMIN_COMMON },
    gatewayResponses: THROTTLING,
  },
];

/** Whether a request of the route carries a JSON body. */
export function takesJsonBody(route: ApiRoute): boolean {
  return route.jsonBody ?? route.method !== 'GET';
}

/** The route of an operation id; throws for an unknown one (a typo in a caller is a bug). */
export function routeById(operationId: string): ApiRoute {
  const route = API_ROUTES.find((candidate) => candidate.operationId === operationId);
  if (!route) throw new Error(`no API route with operationId ${operationId}`);
  return route;
}
