import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ApiGatewayHandler, apiHandler, lazy, lazyRoute, type Provider } from '../../src/api/http.js';
import { createGetOrderRoute, type OrderReadDependencies } from '../../src/api/orders.js';
import { OrderStore } from '../../src/db/orders.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger } from '../../src/runtime/observability.js';

// No logMetrics here: these routes emit no business metrics, and an empty flush logs a
// warning on every request (API Gateway and Lambda already count requests and errors).

/** `GET /v1/orders/{orderId}`. */
export function createGetOrderHandler(dependencies: Provider<OrderReadDependencies>): ApiGatewayHandler {
  const resolve = lazy(dependencies);
  return middy(apiHandler(lazyRoute(() => createGetOrderRoute(resolve())))).use(
    injectLambdaContext(logger, { resetKeys: true }),
  );
}

// Production wiring: the database (see src/runtime/database.ts), built on the first request.
export const handler = createGetOrderHandler(() => ({ orders: new OrderStore(databasePool()) }));
