import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createPlaceOrder, type PlaceOrderOutcome } from '../checkout/place-order.js';
import type { OrderStore } from '../db/orders.js';
import type { SagaStartBuffer, SagaStarter } from '../saga/saga-starter.js';
import { type CheckoutSwitch, withCheckoutSwitch } from './checkout-switch.js';
import { type CustomerLimiter, withCustomerLimits } from './customer-limits.js';
import { headerValue, jsonResponse, parseWith, type Route, readJsonBody } from './http.js';
import type { CheckoutIdempotency } from './idempotency.js';
import { requireCustomer } from './identity.js';
import type { CheckoutMetrics } from './metrics.js';
import { type HttpResponse, ProblemError, problemResponse } from './problems.js';
import { type CheckoutRequest, checkoutRequestSchema, IDEMPOTENCY_KEY_PATTERN } from './schemas.js';
import { acceptedOrderView } from './views.js';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Set on a response that was replayed from the idempotency record rather than computed. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

export interface CheckoutDependencies {
  readonly orders: Pick<OrderStore, 'placeOrFindOrder' | 'getOrder'>;
  readonly sagaStarter: SagaStarter;
  /** Where a saga start that failed or was throttled is handed over (docs/adr/0019). */
  readonly sagaStartBuffer: SagaStartBuffer;
  readonly idempotency: CheckoutIdempotency;
  /** Per-customer limits, spent before anything else is written. @default - no limits */
  readonly limiter?: Pick<CustomerLimiter, 'consume'>;
  /** The operators' switch, read before anything is written (docs/adr/0024). @default - never paused */
  readonly checkoutSwitch?: CheckoutSwitch;
  /** @default 3600 */
  readonly reservationTtlSeconds?: number;
}

/** What the idempotent unit hashes: the key members and the validated body. */
export interface CheckoutPayload {
  readonly customerId: string;
  readonly idempotencyKey: string;
  readonly correlationId: string;
  readonly request: CheckoutRequest;
}

/** A response of the idempotent unit; `replayed` is set by the idempotency response hook. */
export type CheckoutResponse = HttpResponse & { readonly replayed?: boolean };

/** The Idempotency-Key header, or a 400 `IDEMPOTENCY_KEY_REQUIRED` problem. */
export function requireIdempotencyKey(event: APIGatewayProxyEvent): string {
  const key = headerValue(event, IDEMPOTENCY_KEY_HEADER);
  if (key === undefined || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new ProblemError(
      'IDEMPOTENCY_KEY_REQUIRED',
      `Send an ${IDEMPOTENCY_KEY_HEADER} header of 1-255 printable ASCII characters, e.g. a uuid.`,
    );
  }
  return key;
}

/**
 * The HTTP response of a checkout outcome. These are the responses the idempotency record stores
 * and replays byte for byte, so they are deterministic: no timestamps, no correlation id.
 */
export function checkoutResponse(outcome: PlaceOrderOutcome): HttpResponse {
  switch (outcome.outcome) {
    case 'ACCEPTED':
      return jsonResponse(202, acceptedOrderView(outcome.order), {
        Location: `/v1/orders/${outcome.order.orderId}`,
      });
    case 'UNKNOWN_SKU':
      return problemResponse('UNKNOWN_SKU', `No product with SKU ${outcome.skus.join(', ')}.`, {
        skus: outcome.skus,
      });
    case 'CURRENCY_MISMATCH':
      return problemResponse(
        'CURRENCY_MISMATCH',
        `Products ${outcome.skus.join(', ')} are not priced in the requested currency.`,
        { skus: outcome.skus },
      );
    case 'OUT_OF_STOCK':
      return problemResponse(
        'OUT_OF_STOCK',
        `Not enough stock of ${outcome.lines.map((line) => line.sku).join(', ')}.`,
        { skus: outcome.lines.map((line) => line.sku), lines: outcome.lines },
      );
    case 'STORE_CREDIT_EXCEEDS_TOTAL':
      return problemResponse(
        'STORE_CREDIT_EXCEEDS_TOTAL',
        `storeCreditCents must not exceed the order total of ${outcome.totalCents}.`,
        { totalCents: outcome.totalCents },
      );
    case 'INSUFFICIENT_STORE_CREDIT':
      return problemResponse(
        'INSUFFICIENT_STORE_CREDIT',
        `The store-credit balance of ${outcome.balanceCents} does not cover storeCreditCents.`,
        { balanceCents: outcome.balanceCents },
      );
    case 'IDEMPOTENCY_KEY_REUSED':
      return problemResponse(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key already placed an order with different contents. Use a new key for a new request.',
      );
  }
}

/**
 * The idempotent unit of checkout: place the order, start its saga, render the response.
 *
 * It returns a response only for final outcomes (accepted, or a business refusal), and that is
 * what Powertools stores and replays. A committed order is accepted whether or not its saga could
 * be started right away (the start is buffered, docs/adr/0019), so its 202 is stored and replayed
 * like any other. Transient failures before the commit (database or DynamoDB unreachable) are
 * thrown, so the in-progress record is deleted and a retry with the same key runs again; the
 * derived order id (see `createPlaceOrder`) makes that retry pick up an order the failed attempt
 * had already committed. `makeIdempotent` wraps this function rather than the
 * handler: the middy middleware can delete a record it never acquired when a concurrent
 * duplicate arrives (powertools-lambda-typescript#5675).
 */
export function createIdempotentCheckout(dependencies: CheckoutDependencies) {
  const placeOrder = createPlaceOrder({
    orders: dependencies.orders,
    sagaStarter: dependencies.sagaStarter,
    sagaStartBuffer: dependencies.sagaStartBuffer,
    ...(dependencies.reservationTtlSeconds === undefined
      ? {}
      : { reservationTtlSeconds: dependencies.reservationTtlSeconds }),
  });
  const { persistenceStore, config, keyPrefix } = dependencies.idempotency;

  const idempotent = makeIdempotent(
    async (payload: CheckoutPayload): Promise<CheckoutResponse> =>
      checkoutResponse(
        await placeOrder({
          customerId: payload.customerId,
          idempotencyKey: payload.idempotencyKey,
          correlationId: payload.correlationId,
          ...payload.request,
        }),
      ),
    { persistenceStore, config, keyPrefix },
  );

  return (payload: CheckoutPayload, context: Context): Promise<CheckoutResponse> => {
    // Bounds the in-progress lock by this invocation's remaining time: a crashed attempt's lock
    // expires with its invocation instead of blocking the key for the whole record lifetime.
    config.registerLambdaContext(context);
    return idempotent(payload);
  };
}

/** `POST /v1/checkout`: customer, Idempotency-Key, JSON body, then the idempotent unit. */
export function createCheckoutRoute(dependencies: CheckoutDependencies): Route {
  const checkout = createIdempotentCheckout(dependencies);
  const route: Route = async ({ event, context, correlationId }) => {
    const customerId = requireCustomer(event);
    const idempotencyKey = requireIdempotencyKey(event);
    const request = parseWith(checkoutRequestSchema, readJsonBody(event));
    const { replayed, ...response } = await checkout(
      { customerId, idempotencyKey, correlationId, request },
      context,
    );
    return replayed
      ? { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' }, replayed }
      : response;
  };
  return withCheckoutSwitch(
    withCustomerLimits(route, dependencies.limiter, 'checkout'),
    dependencies.checkoutSwitch,
  );
}

/** Counts each checkout response once: replayed, accepted, or rejected with its code. */
export function observeCheckout(metrics: CheckoutMetrics) {
  return (response: HttpResponse): void => {
    if ((response as CheckoutResponse).replayed) metrics.replayed();
    else if (response.statusCode === 202) metrics.accepted();
    else if (response.code) metrics.rejected(response.code);
  };
}
