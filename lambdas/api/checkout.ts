import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type CheckoutDependencies, createCheckoutRoute, observeCheckout } from '../../src/api/checkout.js';
import { type ApiGatewayHandler, apiHandler, routeOnFirstRequest } from '../../src/api/http.js';
import { type CheckoutMetrics, powertoolsCheckoutMetrics } from '../../src/api/metrics.js';
import { containerCheckoutDependencies } from '../../src/roots/checkout.js';
import { logger, metrics as sharedMetrics } from '../../src/runtime/observability.js';
import { type Provider, perContainerProvider } from '../../src/runtime/per-container.js';

export interface CheckoutHandlerOptions {
  /** The Powertools metrics the handler flushes after each request. @default the shared instance */
  readonly metrics?: Metrics;
  /** Where checkout outcomes are counted. @default Powertools EMF on `metrics` */
  readonly checkoutMetrics?: CheckoutMetrics;
}

/** `POST /v1/checkout` with the given dependencies (tests inject their own). */
export function createCheckoutHandler(
  dependencies: Provider<CheckoutDependencies>,
  options: CheckoutHandlerOptions = {},
): ApiGatewayHandler {
  const metrics = options.metrics ?? sharedMetrics;
  const resolve = perContainerProvider(dependencies);
  const route = routeOnFirstRequest(() => createCheckoutRoute(resolve()));
  const onResponse = observeCheckout(options.checkoutMetrics ?? powertoolsCheckoutMetrics(metrics));
  return middy(apiHandler(route, { onResponse }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

export const handler = createCheckoutHandler(containerCheckoutDependencies);
