import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent } from 'aws-lambda';
import { containerCompensationWorker } from '../../src/roots/compensation-worker.js';
import { withInvocationDeadline } from '../../src/runtime/deadline.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/**
 * SQS event source of the compensation queue (ReportBatchItemFailures). Provider calls leave the
 * invocation the time a compensation's records need (docs/adr/0020), so a slow provider fails the
 * record, recorded, instead of timing out the batch.
 */
export const handler = middy((event: SQSEvent, context: Context) =>
  withInvocationDeadline(context, () => containerCompensationWorker()(event, context)),
)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
