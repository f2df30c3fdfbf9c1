import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { sweepStuckOrders } from '../../src/ops/sweeper.js';
import { containerSweeper } from '../../src/roots/sweeper.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/** EventBridge schedule: recovers orders whose saga never started or died (docs/architecture.md). */
export const handler = middy(async () => {
  const { dependencies, options } = containerSweeper();
  const report = await sweepStuckOrders(dependencies, options);
  metrics.addMetric('OrdersRecoveryStarted', MetricUnit.Count, report.started);
  metrics.addMetric('OrdersRecoveryStartDeferred', MetricUnit.Count, report.startDeferred);
  metrics.addMetric('OrdersRecoveryCompensated', MetricUnit.Count, report.compensated);
  metrics.addMetric('OrdersRecoveryRequiresAttention', MetricUnit.Count, report.requiresAttention);
  return report;
})
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
