import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { OrderStore } from '../../src/db/orders.js';
import { type SweeperDependencies, sweepStuckOrders } from '../../src/ops/sweeper.js';
import { integerEnv, requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger, metrics } from '../../src/runtime/observability.js';
import { paymentSaga } from '../../src/runtime/saga-task.js';
import { tracedClient, tracedMethods } from '../../src/runtime/tracing.js';
import { SqsCompensationQueue } from '../../src/saga/compensation-queue.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';

let dependencies: SweeperDependencies | undefined;

function sweeperDependencies(): SweeperDependencies {
  if (!dependencies) {
    const sql = databasePool();
    const stateMachine = new StepFunctionsSagaStarter(
      tracedClient(new SFNClient({})),
      requiredEnv('STATE_MACHINE_ARN'),
    );
    dependencies = {
      sql,
      orders: tracedMethods(new OrderStore(sql), 'OrderStore'),
      saga: paymentSaga(),
      starter: stateMachine,
      inspector: stateMachine,
      compensationQueue: new SqsCompensationQueue(
        tracedClient(new SQSClient({})),
        requiredEnv('COMPENSATION_QUEUE_URL'),
      ),
    };
  }
  return dependencies;
}

/** EventBridge schedule: recovers orders whose saga never started or died (docs/architecture.md). */
export const handler = middy(async () => {
  const report = await sweepStuckOrders(sweeperDependencies(), {
    stuckAfterSeconds: integerEnv('SWEEPER_STUCK_AFTER_SECONDS', 300),
  });
  metrics.addMetric('OrdersRecoveryStarted', MetricUnit.Count, report.started);
  metrics.addMetric('OrdersRecoveryCompensated', MetricUnit.Count, report.compensated);
  metrics.addMetric('OrdersRecoveryRequiresAttention', MetricUnit.Count, report.requiresAttention);
  return report;
})
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
