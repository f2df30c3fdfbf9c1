import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import {
  type ApiGatewayHandler,
  apiHandler,
  lazy,
  lazyRoute,
  type Provider,
  type Route,
} from '../../src/api/http.js';
import {
  type AdminOrderDependencies,
  type CompensationRetryDependencies,
  createGetAdminOrderRoute,
  createRetryCompensationRoute,
} from '../../src/api/operations.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { OrderHistoryStore } from '../../src/db/order-history.js';
import { OrderStore } from '../../src/db/orders.js';
import { requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger } from '../../src/runtime/observability.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';

/** An API handler around a route built from lazily resolved dependencies. */
function handlerOf<T extends object>(dependencies: Provider<T>, build: (dependencies: T) => Route) {
  const resolve = lazy(dependencies);
  return middy(apiHandler(lazyRoute(() => build(resolve())))).use(
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

// Production wiring, built on the first request: the database (see src/runtime/database.ts),
// `STATE_MACHINE_ARN` (the order view) and `COMPENSATION_QUEUE_URL` (the retry).
function adminOrderDependencies(): AdminOrderDependencies {
  const sql = databasePool();
  return {
    orders: new OrderStore(sql),
    history: new OrderHistoryStore(sql),
    compensations: new CompensationStore(sql),
    sagas: new StepFunctionsSagaStarter(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN')),
  };
}

function compensationRetryDependencies(): CompensationRetryDependencies {
  return {
    compensations: new CompensationStore(databasePool()),
    queue: new SqsCompensationQueue(new SQSClient({}), requiredEnv('COMPENSATION_QUEUE_URL')),
  };
}

/** `GET /v1/admin/orders/{orderId}`. */
export const getAdminOrderHandler = createGetAdminOrderHandler(adminOrderDependencies);
/** `POST /v1/admin/compensations/{compensationId}/retry`. */
export const retryCompensationHandler = createRetryCompensationHandler(compensationRetryDependencies);
