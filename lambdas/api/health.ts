import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { createLiveRoute, createReadyRoute, type ReadinessDependencies } from '../../src/api/health.js';
import { type ApiGatewayHandler, apiHandler, lazy, lazyRoute, type Provider } from '../../src/api/http.js';
import { requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger } from '../../src/runtime/observability.js';
import { paymentGateway } from '../../src/runtime/payments.js';

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
/**
 * Production wiring, built on the first request: the database, `IDEMPOTENCY_TABLE_NAME` and, when
 * `PAYMENT_PROVIDER_URL` is set, the payment breaker. That is this container's own gateway
 * (src/runtime/payments.ts): in AWS the health function has its own containers, so it sees only its
 * own idle breaker; see docs/runbooks/payment-provider-outage.md.
 */
function readinessDependencies(): ReadinessDependencies {
  const gateway = process.env.PAYMENT_PROVIDER_URL ? paymentGateway() : undefined;
  return {
    sql: databasePool(),
    dynamoDb: new DynamoDBClient({}),
    idempotencyTableName: requiredEnv('IDEMPOTENCY_TABLE_NAME'),
    ...(gateway ? { paymentBreaker: () => gateway.breakerState() } : {}),
  };
}

export const readyHandler = createReadyHandler(readinessDependencies);
