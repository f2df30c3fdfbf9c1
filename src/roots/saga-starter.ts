import type { ConfigOf } from '../config/declarations.js';
import { SAGA_STARTER_FUNCTION } from '../config/functions.js';
import { RecoveryStore } from '../db/recovery.js';
import { perContainer } from '../runtime/per-container.js';
import { tracedMethods } from '../runtime/tracing.js';
import { SqsSagaStartQueue } from '../saga/saga-start-queue.js';
import { createSagaStartWorker } from '../saga/saga-start-worker.js';
import { StepFunctionsSagaStarter } from '../saga/step-functions-starter.js';
import { sagaStartClient, sagaStartQueueClient } from './aws-clients.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { containerPool } from './database.js';

/** The composition root of the saga starter (docs/adr/0019): the queue's consumer. */
export function createSagaStarterRoot(
  config: ConfigOf<typeof SAGA_STARTER_FUNCTION> & { readonly aws: AwsClientSettings },
) {
  return createSagaStartWorker({
    starter: new StepFunctionsSagaStarter(
      sagaStartClient(config.aws, config.sagaStart.timeoutMs),
      config.stateMachine.arn,
    ),
    claims: tracedMethods(new RecoveryStore(containerPool(config.database)), 'RecoveryStore'),
    visibility: new SqsSagaStartQueue(sagaStartQueueClient(config.aws), config.sagaStart.queueUrl),
    startsPerSecond: config.sagaStarter.startsPerSecond,
  });
}

/** The container's starter, from the configuration its handler declares, built on first use. */
export const containerSagaStarter = /* @__PURE__ */ perContainer(() =>
  createSagaStarterRoot(configurationFor(SAGA_STARTER_FUNCTION)),
);
