import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { EventBridgePublisher } from '../../src/ops/event-publishers.js';
import { type DrainResult, drainOutbox, OutboxStore } from '../../src/ops/outbox-relay.js';
import { integerEnv, requiredEnv } from '../../src/runtime/config.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger, metrics } from '../../src/runtime/observability.js';
import { tracedClient } from '../../src/runtime/tracing.js';

const config = {
  eventBusName: requiredEnv('EVENT_BUS_NAME'),
  batchSize: integerEnv('OUTBOX_BATCH_SIZE', 50),
  leaseSeconds: integerEnv('OUTBOX_LEASE_SECONDS', 60),
  maxBackoffSeconds: integerEnv('OUTBOX_MAX_BACKOFF_SECONDS', 900),
  // No new round with less than this left. Being cut off mid-round is safe (the lease runs out and
  // the events go out again, de-duplicated on eventId), the margin only keeps it rare.
  stopMarginMs: integerEnv('OUTBOX_STOP_MARGIN_MS', 15_000),
};

// The SDK waits for ever by default; a hung PutEvents would hold the round past its lease.
const publisher = new EventBridgePublisher({
  client: tracedClient(
    new EventBridgeClient({ requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 } }),
  ),
  eventBusName: config.eventBusName,
});

/** Runs every minute from an EventBridge schedule: drains the outbox to the event bus. */
async function relayOutboxOnSchedule(_event: ScheduledEvent, context: Context): Promise<DrainResult> {
  const sql = databasePool();
  const result = await drainOutbox({
    sql,
    publisher,
    batchSize: config.batchSize,
    leaseSeconds: config.leaseSeconds,
    maxBackoffSeconds: config.maxBackoffSeconds,
    shouldContinue: () => context.getRemainingTimeInMillis() > config.stopMarginMs,
  });
  const backlog = await new OutboxStore(sql).backlog();

  metrics.addMetric('OutboxEventsPublished', MetricUnit.Count, result.published);
  metrics.addMetric('OutboxEventsFailed', MetricUnit.Count, result.failed);
  // What an alarm watches: a backlog that keeps ageing means the relay or the bus is stuck.
  metrics.addMetric('OutboxBacklog', MetricUnit.Count, backlog.unpublished);
  metrics.addMetric('OutboxOldestEventAge', MetricUnit.Seconds, backlog.oldestAgeSeconds);
  logger.info('outbox relayed', { ...result, backlog });
  return result;
}

/** Scheduled handler (EventBridge Scheduler, rate 1 minute); env `EVENT_BUS_NAME`. */
export const handler = middy(relayOutboxOnSchedule)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
