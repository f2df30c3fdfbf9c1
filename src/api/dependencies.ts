import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CatalogStore } from '../db/catalog.js';
import { CompensationStore } from '../db/compensations.js';
import { OrderHistoryStore } from '../db/order-history.js';
import { OrderStore } from '../db/orders.js';
import { WalletStore } from '../db/wallets.js';
import { requiredEnv } from '../runtime/config.js';
import { databasePool } from '../runtime/database.js';
import { paymentGateway as sharedPaymentGateway } from '../runtime/payments.js';
import { tracedClient, tracedMethods } from '../runtime/tracing.js';
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import type { AdminDependencies } from './admin.js';
import type { CheckoutDependencies } from './checkout.js';
import { CustomerLimiter, customerLimitsFromEnvironment, hasLimits } from './customer-limits.js';
import type { ReadinessDependencies } from './health.js';
import { createCheckoutIdempotency } from './idempotency.js';
import type { AdminOrderDependencies, CompensationRetryDependencies } from './operations.js';
import type { OrderReadDependencies } from './orders.js';

/**
 * Production wiring of the API handlers, from the environment. Nothing here runs at import:
 * each handler module asks for its dependencies on its first invocation (see `lazy`), and every
 * client is created once per container and shared by the handlers of that container.
 *
 * Environment: the database (see `src/runtime/database.ts`), `IDEMPOTENCY_TABLE_NAME`,
 * `STATE_MACHINE_ARN` (checkout and the admin order view), `COMPENSATION_QUEUE_URL` (compensation
 * retry), the customer limits (`CUSTOMER_REQUESTS_PER_MINUTE`, `CUSTOMER_CHECKOUTS_PER_MINUTE`,
 * `CUSTOMER_LIMITS_TABLE_NAME`; unset limits are off) and optionally `PAYMENT_PROVIDER_URL`
 * (readiness reports the
 * payment breaker when set). SDK clients take region, credentials and endpoints from the standard
 * AWS variables (`AWS_ENDPOINT_URL_DYNAMODB` points them at a local stand-in).
 */
function once<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}

const dynamoDb = once(() => tracedClient(new DynamoDBClient({})));
const idempotencyTableName = once(() => requiredEnv('IDEMPOTENCY_TABLE_NAME'));
// The container's one gateway (src/runtime/payments.ts), so readiness reports the breaker the
// payment calls of this process actually go through. In AWS each function has its own containers,
// so the health function sees only its own (idle) breaker; see docs/runbooks/payment-provider-outage.md.
const paymentGateway = once(() => (process.env.PAYMENT_PROVIDER_URL ? sharedPaymentGateway() : undefined));

// Off (no DynamoDB call at all) unless the environment sets a limit.
const customerLimiter = once(() => {
  const limits = customerLimitsFromEnvironment();
  if (!hasLimits(limits)) return undefined;
  return new CustomerLimiter({
    client: dynamoDb(),
    tableName: requiredEnv('CUSTOMER_LIMITS_TABLE_NAME'),
    limits,
  });
});

/** The customer limiter when this function has limits (`CUSTOMER_*_PER_MINUTE`). */
function limiterDependency(): { limiter?: CustomerLimiter } {
  const limiter = customerLimiter();
  return limiter ? { limiter } : {};
}

export function checkoutDependencies(): CheckoutDependencies {
  return {
    ...limiterDependency(),
    orders: tracedMethods(new OrderStore(databasePool()), 'OrderStore'),
    sagaStarter: new StepFunctionsSagaStarter(
      tracedClient(new SFNClient({})),
      requiredEnv('STATE_MACHINE_ARN'),
    ),
    idempotency: createCheckoutIdempotency({ client: dynamoDb(), tableName: idempotencyTableName() }),
  };
}

export function orderReadDependencies(): OrderReadDependencies {
  return { orders: tracedMethods(new OrderStore(databasePool()), 'OrderStore'), ...limiterDependency() };
}

export function adminDependencies(): AdminDependencies {
  const sql = databasePool();
  return {
    catalog: tracedMethods(new CatalogStore(sql), 'CatalogStore'),
    wallets: tracedMethods(new WalletStore(sql), 'WalletStore'),
    compensations: tracedMethods(new CompensationStore(sql), 'CompensationStore'),
  };
}

export function adminOrderDependencies(): AdminOrderDependencies {
  const sql = databasePool();
  return {
    orders: tracedMethods(new OrderStore(sql), 'OrderStore'),
    history: tracedMethods(new OrderHistoryStore(sql), 'OrderHistoryStore'),
    compensations: tracedMethods(new CompensationStore(sql), 'CompensationStore'),
    sagas: new StepFunctionsSagaStarter(tracedClient(new SFNClient({})), requiredEnv('STATE_MACHINE_ARN')),
  };
}

export function compensationRetryDependencies(): CompensationRetryDependencies {
  return {
    compensations: tracedMethods(new CompensationStore(databasePool()), 'CompensationStore'),
    queue: new SqsCompensationQueue(tracedClient(new SQSClient({})), requiredEnv('COMPENSATION_QUEUE_URL')),
  };
}

export function readinessDependencies(): ReadinessDependencies {
  const gateway = paymentGateway();
  return {
    sql: databasePool(),
    dynamoDb: dynamoDb(),
    idempotencyTableName: idempotencyTableName(),
    ...(gateway ? { paymentBreaker: () => gateway.breakerState() } : {}),
  };
}
