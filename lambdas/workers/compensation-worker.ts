import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent } from 'aws-lambda';
import { CompensationStore } from '../../src/db/compensations.js';
import { integerEnv, requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger, metrics } from '../../src/runtime/observability.js';
import { paymentSaga } from '../../src/runtime/saga-task.js';
import { tracedClient, tracedMethods } from '../../src/runtime/tracing.js';
import { powertoolsCompensationMetrics } from '../../src/saga/compensation-metrics.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { createCompensationWorker } from '../../src/saga/compensation-worker.js';

let worker: ReturnType<typeof createCompensationWorker> | undefined;

function compensationWorker() {
  worker ??= createCompensationWorker({
    saga: paymentSaga(),
    compensations: tracedMethods(
      new CompensationStore(databasePool(), powertoolsCompensationMetrics(metrics)),
      'CompensationStore',
    ),
    persistenceStore: new DynamoDBPersistenceLayer({ tableName: requiredEnv('IDEMPOTENCY_TABLE_NAME') }),
    maxReceiveCount: integerEnv('COMPENSATION_MAX_RECEIVE_COUNT', 5),
    queue: new SqsCompensationQueue(tracedClient(new SQSClient({})), requiredEnv('COMPENSATION_QUEUE_URL')),
  });
  return worker;
}

/** SQS event source of the compensation queue (ReportBatchItemFailures). */
export const handler = middy((event: SQSEvent, context: Context) => compensationWorker()(event, context))
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
