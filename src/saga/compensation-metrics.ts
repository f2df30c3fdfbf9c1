import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CompensationOutcomes } from '../db/compensations.js';

/**
 * The compensation worker's KPIs (the dashboard's compensation failure rate and time to
 * resolution), read by lib/constructs/monitoring.ts under these names. Emitted from what the
 * audit table reports it changed, so a duplicate delivery is never counted twice.
 */
export const COMPENSATION_METRIC_NAMES = {
  /** An attempt of the worker at a compensation. */
  attempts: 'CompensationAttempts',
  /** An attempt that failed (SQS retries it, or it moves to the DLQ). */
  attemptFailures: 'CompensationAttemptFailures',
  /** A compensation that failed its last attempt and moved to the DLQ. */
  exhausted: 'CompensationsExhausted',
  resolved: 'CompensationsResolved',
  /** Seconds from the saga giving the compensation up to the worker finishing it. */
  timeToResolve: 'CompensationTimeToResolve',
} as const;

/** {@link CompensationOutcomes} as CloudWatch EMF through Powertools (flushed by `logMetrics`). */
export function powertoolsCompensationMetrics(metrics: Metrics): CompensationOutcomes {
  return {
    attempted: () => metrics.addMetric(COMPENSATION_METRIC_NAMES.attempts, MetricUnit.Count, 1),
    failed: ({ final }) => {
      metrics.addMetric(COMPENSATION_METRIC_NAMES.attemptFailures, MetricUnit.Count, 1);
      if (final) metrics.addMetric(COMPENSATION_METRIC_NAMES.exhausted, MetricUnit.Count, 1);
    },
    resolved: (compensation) => {
      metrics.addMetric(COMPENSATION_METRIC_NAMES.resolved, MetricUnit.Count, 1);
      const seconds = (Date.parse(compensation.resolvedAt ?? '') - Date.parse(compensation.createdAt)) / 1000;
      if (Number.isFinite(seconds)) {
        metrics.addMetric(COMPENSATION_METRIC_NAMES.timeToResolve, MetricUnit.Seconds, Math.max(0, seconds));
      }
    },
  };
}
