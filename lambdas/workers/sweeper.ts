import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { sweepStuckOrders } from '../../src/ops/sweeper.js';
import { containerSweeper } from '../../src/roots/sweeper.js';
import { withInvocationDeadline } from '../../src/runtime/deadline.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/** EventBridge schedule: recovers orders whose saga never started or died (docs/architecture.md). */
export const handler = middy(async (_event: unknown, context: Context) => {
  const { dependencies, options } = containerSweeper();
  // Provider calls leave the run the time an order's records need (docs/adr/0020).
  const report = await withInvocationDeadline(context, () => sweepStuckOrders(dependencies, options));
  metrics.addMetric('OrdersRecoveryStarted', MetricUnit.Count, report.started);
  metrics.addMetric('OrdersRecoveryStartDeferred', MetricUnit.Count, report.startDeferred);
  metrics.addMetric('OrdersRecoveryCompensated', MetricUnit.Count, report.compensated);
  metrics.addMetric('OrdersRecoveryRequiresAttention', MetricUnit.Count, report.requiresAttention);
  return report;
})
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
