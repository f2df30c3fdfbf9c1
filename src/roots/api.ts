import type { AdminDependencies } from '../api/admin.js';
import { CustomerLimiter, type CustomerLimits, hasLimits } from '../api/customer-limits.js';
import type { ReadinessDependencies } from '../api/health.js';
import type { AdminOrderDependencies, CompensationRetryDependencies } from '../api/operations.js';
import type { OrderReadDependencies } from '../api/orders.js';
import { type ConfigOf, type GroupValues, required } from '../config/declarations.js';
import {
  ADMIN_FUNCTION,
  ADMIN_ORDER_FUNCTION,
  COMPENSATION_RETRY_FUNCTION,
  ORDER_READ_FUNCTION,
  READINESS_FUNCTION,
} from '../config/functions.js';
import { customerLimits } from '../config/variables.js';
import { CatalogStore } from '../db/catalog.js';
import { databaseProbe } from '../db/client.js';
import { CompensationStore } from '../db/compensations.js';
import { OrderHistoryStore } from '../db/order-history.js';
import { OrderStore } from '../db/orders.js';
import { WalletStore } from '../db/wallets.js';
import { tracedMethods } from '../runtime/tracing.js';
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import { dynamoDbClient, sqsClient, stepFunctionsClient } from './aws-clients.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { containerPool } from './database.js';
import { containerPaymentGateway } from './payments.js';

/**
 * The composition root of the API functions: each route's dependencies from a configuration
 * object holding the groups its handler declares (`src/config/functions.ts`). The pool and the SDK
 * clients are the container's (`src/roots/database.ts`, `aws-clients.ts`), shared by the routes a container serves.
 * The `container*` functions read the configuration (host or environment): what the handler
 * modules pass their factories, which call them once. Checkout's root is `checkout.ts`: only it
 * uses Powertools idempotency, whose JMESPath engine no bundler can drop once imported.
 */
export type WithAws<C> = C & { readonly aws: AwsClientSettings };

/** The customer limiter when the configuration sets a limit; off (no DynamoDB call at all) otherwise. */
export function limiterOf(config: WithAws<{ customerLimits: GroupValues<typeof customerLimits> }>): {
  limiter?: CustomerLimiter;
} {
  const { tableName, requestsPerMinute, checkoutsPerMinute } = config.customerLimits;
  const limits: CustomerLimits = {
    ...(requestsPerMinute === undefined ? {} : { requestsPerMinute }),
    ...(checkoutsPerMinute === undefined ? {} : { checkoutsPerMinute }),
  };
  if (!hasLimits(limits)) return {};
  return {
    limiter: new CustomerLimiter({
      client: dynamoDbClient(config.aws),
      tableName: required(customerLimits.variables.tableName, tableName),
      limits,
    }),
  };
}

export function orderReadDependencies(
  config: WithAws<ConfigOf<typeof ORDER_READ_FUNCTION>>,
): OrderReadDependencies {
  return {
    orders: tracedMethods(new OrderStore(containerPool(config.database)), 'OrderStore'),
    ...limiterOf(config),
  };
}

export function adminDependencies(config: WithAws<ConfigOf<typeof ADMIN_FUNCTION>>): AdminDependencies {
  const sql = containerPool(config.database);
  return {
    catalog: tracedMethods(new CatalogStore(sql), 'CatalogStore'),
    wallets: tracedMethods(new WalletStore(sql), 'WalletStore'),
    compensations: tracedMethods(new CompensationStore(sql), 'CompensationStore'),
  };
}

export function adminOrderDependencies(
  config: WithAws<ConfigOf<typeof ADMIN_ORDER_FUNCTION>>,
): AdminOrderDependencies {
  const sql = containerPool(config.database);
  return {
    orders: tracedMethods(new OrderStore(sql), 'OrderStore'),
    history: tracedMethods(new OrderHistoryStore(sql), 'OrderHistoryStore'),
    compensations: tracedMethods(new CompensationStore(sql), 'CompensationStore'),
    sagas: new StepFunctionsSagaStarter(stepFunctionsClient(config.aws), config.stateMachine.arn),
  };
}

export function compensationRetryDependencies(
  config: WithAws<ConfigOf<typeof COMPENSATION_RETRY_FUNCTION>>,
): CompensationRetryDependencies {
  return {
    compensations: tracedMethods(new CompensationStore(containerPool(config.database)), 'CompensationStore'),
    queue: new SqsCompensationQueue(sqsClient(config.aws), config.compensationQueue.url),
  };
}

/**
 * Readiness over the container's pool, idempotency table and payment gateway: the breaker
 * reported is the one this container's payment calls go through. In AWS each function has its own
 * containers, so the health function sees only its own (idle) breaker; see
 * docs/runbooks/payment-provider-outage.md.
 */
export function readinessDependencies(
  config: WithAws<ConfigOf<typeof READINESS_FUNCTION>>,
): ReadinessDependencies {
  // No secret: readiness builds the gateway only to report its breaker, it never calls.
  const gateway = containerPaymentGateway({ paymentProvider: config.paymentProvider });
  return {
    database: databaseProbe(containerPool(config.database)),
    dynamoDb: dynamoDbClient(config.aws),
    idempotencyTableName: config.idempotency.tableName,
    paymentBreaker: () => gateway.breakerState(),
  };
}

// Each route's dependencies from the configuration its handler declares, read on first use: one
// function each, so a function's bundle carries only its own route's dependencies.

export function containerOrderReadDependencies(): OrderReadDependencies {
  return orderReadDependencies(configurationFor(ORDER_READ_FUNCTION));
}

export function containerAdminDependencies(): AdminDependencies {
  return adminDependencies(configurationFor(ADMIN_FUNCTION));
}

export function containerAdminOrderDependencies(): AdminOrderDependencies {
  return adminOrderDependencies(configurationFor(ADMIN_ORDER_FUNCTION));
}

export function containerCompensationRetryDependencies(): CompensationRetryDependencies {
  return compensationRetryDependencies(configurationFor(COMPENSATION_RETRY_FUNCTION));
}

export function containerReadinessDependencies(): ReadinessDependencies {
  return readinessDependencies(configurationFor(READINESS_FUNCTION));
}
