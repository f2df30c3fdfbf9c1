import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createLiveRoute, createReadyRoute, type ReadinessDependencies } from '../../src/api/health.js';
import { type ApiGatewayHandler, apiHandler, routeOnFirstRequest } from '../../src/api/http.js';
import { containerReadinessDependencies } from '../../src/roots/api.js';
import { logger } from '../../src/runtime/observability.js';
import { type Provider, perContainerProvider } from '../../src/runtime/per-container.js';

/** `GET /health/live`: no dependencies, so nothing to inject. */
export function createLiveHandler(): ApiGatewayHandler {
  return middy(apiHandler(createLiveRoute())).use(injectLambdaContext(logger, { resetKeys: true }));
}

/** `GET /health/ready`. */
export function createReadyHandler(dependencies: Provider<ReadinessDependencies>): ApiGatewayHandler {
  const resolve = perContainerProvider(dependencies);
  return middy(apiHandler(routeOnFirstRequest(() => createReadyRoute(resolve())))).use(
    injectLambdaContext(logger, { resetKeys: true }),
  );
}

export const liveHandler = createLiveHandler();
export const readyHandler = createReadyHandler(containerReadinessDependencies);
