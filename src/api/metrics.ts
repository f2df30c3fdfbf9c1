import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ProblemCode } from './problems.js';

/** Business metrics of `POST /v1/checkout`. */
export interface CheckoutMetrics {
  /** A new order was accepted (202). */
  accepted(): void;
  /** The request was answered with a problem; `code` says why. */
  rejected(code: ProblemCode): void;
  /** A stored response was replayed for a retried Idempotency-Key. */
  replayed(): void;
}

export const CHECKOUT_METRIC_NAMES = {
  accepted: 'CheckoutAccepted',
  rejected: 'CheckoutRejected',
  replayed: 'CheckoutReplayed',
} as const;

/**
 * The metrics as CloudWatch EMF through Powertools, flushed by the handler's `logMetrics`
 * middleware. `CheckoutRejected` carries a `code` dimension (with `service`); the total of all
 * rejections is the metric-math sum over codes. One invocation records one outcome, so the
 * request-scoped dimension set never tags another metric.
 */
export function powertoolsCheckoutMetrics(metrics: Metrics): CheckoutMetrics {
  return {
    accepted: () => metrics.addMetric(CHECKOUT_METRIC_NAMES.accepted, MetricUnit.Count, 1),
    rejected: (code) => {
      metrics.addDimensions({ code });
      metrics.addMetric(CHECKOUT_METRIC_NAMES.rejected, MetricUnit.Count, 1);
    },
    replayed: () => metrics.addMetric(CHECKOUT_METRIC_NAMES.replayed, MetricUnit.Count, 1),
  };
}
