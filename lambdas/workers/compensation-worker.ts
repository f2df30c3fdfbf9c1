import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent } from 'aws-lambda';
import { containerCompensationWorker } from '../../src/roots/compensation-worker.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/** SQS event source of the compensation queue (ReportBatchItemFailures). */
export const handler = middy((event: SQSEvent, context: Context) =>
  containerCompensationWorker()(event, context),
)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
