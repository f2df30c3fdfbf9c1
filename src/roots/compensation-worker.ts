import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { ConfigOf } from '../config/declarations.js';
import { COMPENSATION_WORKER_FUNCTION } from '../config/functions.js';
import { CompensationStore } from '../db/compensations.js';
import { metrics } from '../runtime/observability.js';
import { perContainer } from '../runtime/per-container.js';
import { tracedMethods } from '../runtime/tracing.js';
import { powertoolsCompensationMetrics } from '../saga/compensation-metrics.js';
import { SqsCompensationQueue } from '../saga/compensation-queue.js';
import { createCompensationWorker } from '../saga/compensation-worker.js';
import { dynamoDbClient, sqsClient } from './aws-clients.js';
import { type AwsClientSettings, configurationFor } from './configuration.js';
import { containerPool } from './database.js';
import { createPaymentSaga } from './saga.js';

/** The composition root of the compensation worker: the saga steps, the audit store, idempotency. */
export function createCompensationWorkerRoot(
  config: ConfigOf<typeof COMPENSATION_WORKER_FUNCTION> & { readonly aws: AwsClientSettings },
) {
  return createCompensationWorker({
    saga: createPaymentSaga(config),
    compensations: tracedMethods(
      new CompensationStore(containerPool(config.database), powertoolsCompensationMetrics(metrics)),
      'CompensationStore',
    ),
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: config.idempotency.tableName,
      awsSdkV3Client: dynamoDbClient(config.aws),
    }),
    maxReceiveCount: config.compensationWorker.maxReceiveCount,
    queue: new SqsCompensationQueue(sqsClient(config.aws), config.compensationQueue.url),
  });
}

/** The container's worker, from the configuration its handler declares, built on first use. */
export const containerCompensationWorker = /* @__PURE__ */ perContainer(() =>
  createCompensationWorkerRoot(configurationFor(COMPENSATION_WORKER_FUNCTION)),
);
