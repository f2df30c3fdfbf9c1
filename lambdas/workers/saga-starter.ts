import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent } from 'aws-lambda';
import { containerSagaStarter } from '../../src/roots/saga-starter.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/** SQS event source of the saga-start queue (ReportBatchItemFailures): docs/adr/0019. */
export const handler = middy((event: SQSEvent, context: Context) => containerSagaStarter()(event, context))
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
