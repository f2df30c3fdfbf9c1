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
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import type { AdminDependencies } from './admin.js';
import type { CheckoutDependencies } from './checkout.js';
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
 * retry) and optionally `PAYMENT_PROVIDER_URL` (readiness reports the
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

const dynamoDb = once(() => new DynamoDBClient({}));
const idempotencyTableName = once(() => requiredEnv('IDEMPOTENCY_TABLE_NAME'));
// The container's one gateway (src/runtime/payments.ts), so readiness reports the breaker the
// payment calls of this process actually go through. In AWS each function has its own containers,
// so the health function sees only its own (idle) breaker; see docs/runbooks/payment-provider-outage.md.
const paymentGateway = once(() => (process.env.PAYMENT_PROVIDER_URL ? sharedPaymentGateway() : undefined));

export function checkoutDependencies(): CheckoutDependencies {
  return {
    orders: new OrderStore(databasePool()),
    sagaStarter: new StepFunctionsSagaStarter(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN')),
    idempotency: createCheckoutIdempotency({ client: dynamoDb(), tableName: idempotencyTableName() }),
  };
}

export function orderReadDependencies(): OrderReadDependencies {
  return { orders: new OrderStore(databasePool()) };
}

export function adminDependencies(): AdminDependencies {
  const sql = databasePool();
  return {
    catalog: new CatalogStore(sql),
    wallets: new WalletStore(sql),
    compensations: new CompensationStore(sql),
  };
}

export function adminOrderDependencies(): AdminOrderDependencies {
  const sql = databasePool();
  return {
    orders: new OrderStore(sql),
    history: new OrderHistoryStore(sql),
    compensations: new CompensationStore(sql),
    sagas: new StepFunctionsSagaStarter(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN')),
  };
}

export function compensationRetryDependencies(): CompensationRetryDependencies {
  return {
    compensations: new CompensationStore(databasePool()),
    queue: new SqsCompensationQueue(new SQSClient({}), requiredEnv('COMPENSATION_QUEUE_URL')),
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
