import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { type CheckoutDependencies, createCheckoutRoute, observeCheckout } from '../../src/api/checkout.js';
import { type ApiGatewayHandler, apiHandler, lazy, lazyRoute, type Provider } from '../../src/api/http.js';
import { createCheckoutIdempotency } from '../../src/api/idempotency.js';
import { type CheckoutMetrics, powertoolsCheckoutMetrics } from '../../src/api/metrics.js';
import { OrderStore } from '../../src/db/orders.js';
import { requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger, metrics as sharedMetrics } from '../../src/runtime/observability.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';

export interface CheckoutHandlerOptions {
  /** The Powertools metrics the handler flushes after each request. @default the shared instance */
  readonly metrics?: Metrics;
  /** Where checkout outcomes are counted. @default Powertools EMF on `metrics` */
  readonly checkoutMetrics?: CheckoutMetrics;
}

/** `POST /v1/checkout` with the given dependencies (tests and the local stack inject their own). */
export function createCheckoutHandler(
  dependencies: Provider<CheckoutDependencies>,
  options: CheckoutHandlerOptions = {},
): ApiGatewayHandler {
  const metrics = options.metrics ?? sharedMetrics;
  const resolve = lazy(dependencies);
  const route = lazyRoute(() => createCheckoutRoute(resolve()));
  const onResponse = observeCheckout(options.checkoutMetrics ?? powertoolsCheckoutMetrics(metrics));
  return middy(apiHandler(route, { onResponse }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

/**
 * Production wiring, built on the first request: the database (see src/runtime/database.ts),
 * `STATE_MACHINE_ARN` and `IDEMPOTENCY_TABLE_NAME`. SDK clients take region, credentials and
 * endpoints from the standard AWS variables (`AWS_ENDPOINT_URL_DYNAMODB` points them at a stand-in).
 */
function checkoutDependencies(): CheckoutDependencies {
  return {
    orders: new OrderStore(databasePool()),
    sagaStarter: new StepFunctionsSagaStarter(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN')),
    idempotency: createCheckoutIdempotency({
      client: new DynamoDBClient({}),
      tableName: requiredEnv('IDEMPOTENCY_TABLE_NAME'),
    }),
  };
}

export const handler = createCheckoutHandler(checkoutDependencies);
