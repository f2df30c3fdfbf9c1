import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

import { readGroup } from '../config/declarations.js';
import { powertools } from '../config/variables.js';
import { sourceMappedStackTraces } from './stack-traces.js';

// Every function logs through this module: its stack traces point at the sources from here on.
sourceMappedStackTraces(import.meta.url);

// Read at import: the logger and metrics exist before any handler runs.
const { serviceName, metricsNamespace } = readGroup(powertools, process.env);

/** The one structured logger of a process; every line carries the correlation id once appended. */
export const logger = new Logger({ serviceName });

/** CloudWatch EMF metrics, flushed by the `logMetrics` middleware or `publishStoredMetrics()`. */
export const metrics = new Metrics({
  namespace: metricsNamespace,
  serviceName,
});

/** Tags every following log line of this invocation with the request's correlation id. */
export function useCorrelationId(correlationId: string): void {
  logger.appendKeys({ correlationId });
}
