import type { CheckoutDependencies } from '../api/checkout.js';
import { parametersCheckoutSwitch } from '../api/checkout-switch.js';
import { createCheckoutIdempotency } from '../api/idempotency.js';
import type { ConfigOf } from '../config/declarations.js';
import { CHECKOUT_FUNCTION } from '../config/functions.js';
import { OrderStore } from '../db/orders.js';
import { tracedMethods } from '../runtime/tracing.js';
import { SqsSagaStartQueue } from '../saga/saga-start-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import { limiterOf, type WithAws } from './api.js';
import { dynamoDbClient, sagaStartClient, sagaStartQueueClient } from './aws-clients.js';
import { configurationFor } from './configuration.js';
import { containerPool } from './database.js';

/**
 * The composition root of the checkout function, apart from the other routes' (`api.ts`): it
 * alone needs Powertools idempotency, which brings a JMESPath engine (about 23 KiB minified,
 * classes with decorators that no bundler can drop once imported) into every bundle importing
 * it. docs/PERFORMANCE.md, "Lean and cheap per checkout", measures the bundles.
 */
export function checkoutDependencies(
  config: WithAws<ConfigOf<typeof CHECKOUT_FUNCTION>>,
): CheckoutDependencies {
  return {
    ...limiterOf(config),
    orders: tracedMethods(new OrderStore(containerPool(config.database)), 'OrderStore'),
    sagaStarter: new StepFunctionsSagaStarter(
      sagaStartClient(config.aws, config.sagaStart.timeoutMs),
      config.stateMachine.arn,
    ),
    sagaStartBuffer: new SqsSagaStartQueue(sagaStartQueueClient(config.aws), config.sagaStart.queueUrl),
    idempotency: createCheckoutIdempotency({
      client: dynamoDbClient(config.aws),
      tableName: config.idempotency.tableName,
    }),
    checkoutSwitch: parametersCheckoutSwitch({
      client: dynamoDbClient(config.aws),
      tableName: config.operatorControls.tableName,
    }),
  };
}

/** The checkout function's dependencies from the configuration its handler declares. */
export function containerCheckoutDependencies(): CheckoutDependencies {
  return checkoutDependencies(configurationFor(CHECKOUT_FUNCTION));
}
