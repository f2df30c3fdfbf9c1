import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { readinessDependencies } from '../../src/api/dependencies.js';
import { createLiveRoute, createReadyRoute, type ReadinessDependencies } from '../../src/api/health.js';
import { type ApiGatewayHandler, apiHandler, lazy, lazyRoute, type Provider } from '../../src/api/http.js';
import { logger } from '../../src/runtime/observability.js';

/** `GET /health/live`: no dependencies, so nothing to inject. */
export function createLiveHandler(): ApiGatewayHandler {
  return middy(apiHandler(createLiveRoute())).use(injectLambdaContext(logger, { resetKeys: true }));
}

/** `GET /health/ready`. */
export function createReadyHandler(dependencies: Provider<ReadinessDependencies>): ApiGatewayHandler {
  const resolve = lazy(dependencies);
  return middy(apiHandler(lazyRoute(() => createReadyRoute(resolve())))).use(
    injectLambdaContext(logger, { resetKeys: true }),
  );
}

export const liveHandler = createLiveHandler();
export const readyHandler = createReadyHandler(readinessDependencies);
