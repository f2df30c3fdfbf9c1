import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { orderReadDependencies } from '../../src/api/dependencies.js';
import { type ApiGatewayHandler, apiHandler, lazy, lazyRoute, type Provider } from '../../src/api/http.js';
import { createGetOrderRoute, type OrderReadDependencies } from '../../src/api/orders.js';
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

export const handler = createGetOrderHandler(orderReadDependencies);
