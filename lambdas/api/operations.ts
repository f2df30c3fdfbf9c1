import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ApiGatewayHandler, apiHandler, type Route, routeOnFirstRequest } from '../../src/api/http.js';
import {
  type AdminOrderDependencies,
  type CompensationRetryDependencies,
  createGetAdminOrderRoute,
  createRetryCompensationRoute,
} from '../../src/api/operations.js';
import {
  containerAdminOrderDependencies,
  containerCompensationRetryDependencies,
} from '../../src/roots/api.js';
import { logger } from '../../src/runtime/observability.js';
import { type Provider, perContainerProvider } from '../../src/runtime/per-container.js';

/** An API handler around a route built from lazily resolved dependencies. */
function handlerOf<T extends object>(dependencies: Provider<T>, build: (dependencies: T) => Route) {
  const resolve = perContainerProvider(dependencies);
  return middy(apiHandler(routeOnFirstRequest(() => build(resolve())))).use(
    injectLambdaContext(logger, { resetKeys: true }),
  ) as ApiGatewayHandler;
}

export function createGetAdminOrderHandler(
  dependencies: Provider<AdminOrderDependencies>,
): ApiGatewayHandler {
  return handlerOf(dependencies, createGetAdminOrderRoute);
}

export function createRetryCompensationHandler(
  dependencies: Provider<CompensationRetryDependencies>,
): ApiGatewayHandler {
  return handlerOf(dependencies, createRetryCompensationRoute);
}

/** `GET /v1/admin/orders/{orderId}`. */
export const getAdminOrderHandler = createGetAdminOrderHandler(containerAdminOrderDependencies);
/** `POST /v1/admin/compensations/{compensationId}/retry`. */
export const retryCompensationHandler = createRetryCompensationHandler(
  containerCompensationRetryDependencies,
);
