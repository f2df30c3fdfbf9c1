import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { OutboxStore } from '../../src/db/outbox.js';
import { type DrainResult, drainOutbox } from '../../src/ops/outbox-relay.js';
import { containerOutboxRelay } from '../../src/roots/outbox-relay.js';
import { logger, metrics } from '../../src/runtime/observability.js';

/** Runs every minute from an EventBridge schedule: drains the outbox to the event bus. */
async function relayOutboxOnSchedule(_event: ScheduledEvent, context: Context): Promise<DrainResult> {
  const { sql, publisher, settings } = containerOutboxRelay();
  const result = await drainOutbox({
    sql,
    publisher,
    batchSize: settings.batchSize,
    leaseSeconds: settings.leaseSeconds,
    maxBackoffSeconds: settings.maxBackoffSeconds,
    // No new round with less than this left. Being cut off mid-round is safe (the lease runs out
    // and the events go out again, de-duplicated on eventId), the margin only keeps it rare.
    shouldContinue: () => context.getRemainingTimeInMillis() > settings.stopMarginMs,
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

/** Scheduled handler (EventBridge Scheduler, rate 1 minute); configuration: `src/config/functions.ts`. */
export const handler = middy(relayOutboxOnSchedule)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics));
