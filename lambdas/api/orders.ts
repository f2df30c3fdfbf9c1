import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ApiGatewayHandler, apiHandler, routeOnFirstRequest } from '../../src/api/http.js';
import { createGetOrderRoute, type OrderReadDependencies } from '../../src/api/orders.js';
import { containerOrderReadDependencies } from '../../src/roots/api.js';
import { logger } from '../../src/runtime/observability.js';
import { type Provider, perContainerProvider } from '../../src/runtime/per-container.js';

// No logMetrics here: these routes emit no business metrics, and an empty flush logs a
// warning on every request (API Gateway and Lambda already count requests and errors).

/** `GET /v1/orders/{orderId}`. */
export function createGetOrderHandler(dependencies: Provider<OrderReadDependencies>): ApiGatewayHandler {
  const resolve = perContainerProvider(dependencies);
  return middy(apiHandler(routeOnFirstRequest(() => createGetOrderRoute(resolve())))).use(
    injectLambdaContext(logger, { resetKeys: true }),
  );
}

export const handler = createGetOrderHandler(containerOrderReadDependencies);
