import type { ConfigOf } from '../config/declarations.js';
import { SWEEPER_FUNCTION } from '../config/functions.js';
import { OrderStore } from '../db/orders.js';
import { RecoveryStore } from '../db/recovery.js';
import type { SweeperDependencies } from '../ops/sweeper.js';
import { perContainer } from '../runtime/per-container.js';
import { tracedMethods } from '../runtime/tracing.js';
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import { sqsClient, stepFunctionsClient } from './aws-clients.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { containerPool } from './database.js';
import { createPaymentSaga } from './saga.js';

/** The composition root of the crash-recovery sweeper (a scheduled job). */

/** The sweeper's dependencies and options from a configuration object. */
export function createSweeperRoot(
  config: ConfigOf<typeof SWEEPER_FUNCTION> & { readonly aws: AwsClientSettings },
) {
  const sql = containerPool(config.database);
  const stateMachine = new StepFunctionsSagaStarter(stepFunctionsClient(config.aws), config.stateMachine.arn);
  const dependencies: SweeperDependencies = {
    recovery: tracedMethods(new RecoveryStore(sql), 'RecoveryStore'),
    orders: tracedMethods(new OrderStore(sql), 'OrderStore'),
    saga: createPaymentSaga(config),
    starter: stateMachine,
    inspector: stateMachine,
    compensationQueue: new SqsCompensationQueue(sqsClient(config.aws), config.compensationQueue.url),
  };
  return { dependencies, options: { stuckAfterSeconds: config.sweeper.stuckAfterSeconds } };
}

export const containerSweeper = /* @__PURE__ */ perContainer(() =>
  createSweeperRoot(configurationFor(SWEEPER_FUNCTION)),
);
