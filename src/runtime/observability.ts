import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'checkout';

/** The one structured logger of a process; every line carries the correlation id once appended. */
export const logger = new Logger({ serviceName });

/** CloudWatch EMF metrics, flushed by the `logMetrics` middleware or `publishStoredMetrics()`. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Checkout',
  serviceName,
});

/** Tags every following log line of this invocation with the request's correlation id. */
export function useCorrelationId(correlationId: string): void {
  logger.appendKeys({ correlationId });
}
