import { Duration } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs';
import type { DatabaseInstance, DatabaseProxy } from 'aws-cdk-lib/aws-rds';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { COMPENSATION_METRIC_NAMES } from '../../src/saga/compensation-metrics.js';

/** What the monitoring construct watches and where it sends its alarms (`monitoring.ts`). */
export interface MonitoringProps {
  /** Every alarm notifies this topic (alarm and back to OK). */
  readonly topic: ITopic;
  readonly apiStage: Stage;
  /**
   * The stage's JSON access logs: 429 answers (the limits per customer and the stage throttle) are
   * counted from them, as CloudWatch has no metric of its own for either.
   */
  readonly apiAccessLogs: ILogGroup;
  /** The account's concurrent executions the stage's budget needs (docs/adr/0020). */
  readonly accountConcurrency: number;
  readonly stateMachine: IStateMachine;
  readonly compensationQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** Saga starts waiting for the saga starter (docs/adr/0019), and its dead-letter queue. */
  readonly sagaStartQueue: IQueue;
  readonly sagaStartDeadLetterQueue: IQueue;
  /** The functions to watch for errors and throttles, by a stable name (a construct id each). */
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly proxy: DatabaseProxy;
  readonly database: DatabaseInstance;
  /** Console link to the dead-letter queue, quoted in the DLQ alarm's description. @default - none */
  readonly deadLetterQueueConsoleUrl?: string;
  /** Namespace of the functions' Powertools metrics (the `powertools` configuration group). */
  readonly metricsNamespace: string;
  /** Their `service` dimension (likewise). */
  readonly serviceName: string;
}

const oneMinute = Duration.minutes(1);
const fiveMinutes = Duration.minutes(5);
const oneHour = Duration.hours(1);

/** A function's error rate and throttles, labelled with its name. */
export interface FunctionSignals {
  readonly name: string;
  readonly errorRate: MathExpression;
  readonly throttles: Metric;
}

/**
 * The metrics and expressions the alarms and the dashboard share (docs/runbooks/README.md): built
 * once, so an alarm and the graph beside it always show the same number.
 */
export function monitoringSignals(scope: Construct, props: MonitoringProps) {
  const { apiStage, stateMachine } = props;
  // Counted from the access logs (jsonAccessLogFormat in checkout-api.ts): `status` and `errorType`.
  const accessLogCount = (id: string, metricName: string, pattern: ReturnType<typeof FilterPattern.any>) =>
    new MetricFilter(scope, id, {
      logGroup: props.apiAccessLogs,
      metricNamespace: props.metricsNamespace,
      metricName,
      filterPattern: pattern,
      metricValue: '1',
      defaultValue: 0,
    }).metric({ statistic: 'Sum', period: oneMinute });
  const rateLimited = accessLogCount(
    'RateLimitedAnswers',
    'ApiRateLimited',
    FilterPattern.any(FilterPattern.numberValue('$.status', '=', 429)),
  );
  // API Gateway's own throttling: the stage throttle (shared by every customer) or a usage-plan limit.
  const throttled = accessLogCount(
    'ThrottledAnswers',
    'ApiThrottled',
    FilterPattern.any(
      FilterPattern.stringValue('$.errorType', '=', 'THROTTLED'),
      FilterPattern.stringValue('$.errorType', '=', 'QUOTA_EXCEEDED'),
    ),
  );
  const serverErrors = apiStage.metricServerError({ statistic: 'Sum', period: oneMinute });
  const requests = apiStage.metricCount({ statistic: 'Sum', period: oneMinute });
  const sagaEnded = (period: Duration) => ({
    failed: stateMachine.metricFailed({ statistic: 'Sum', period }),
    timedOut: stateMachine.metricTimedOut({ statistic: 'Sum', period }),
    aborted: stateMachine.metricAborted({ statistic: 'Sum', period }),
  });
  // KPIs: the compensation worker's metrics (src/saga/compensation-metrics.ts)
  const compensationMetric = (metricName: string, statistic: string, period = fiveMinutes) =>
    new Metric({
      namespace: props.metricsNamespace,
      metricName,
      dimensionsMap: { service: props.serviceName },
      statistic,
      period,
    });
  const proxyMetric = (metricName: string, statistic = 'Maximum') =>
    new Metric({
      namespace: 'AWS/RDS',
      metricName,
      dimensionsMap: { ProxyName: props.proxy.dbProxyName },
      statistic,
      period: oneMinute,
    });
  // Executions that ended; a cleanly cancelled order (declined card) is a success of the saga.
  const ended = 'succeeded + failed + timedOut + aborted';

  return {
    api: {
      requests,
      latencyP50: apiStage.metricLatency({ statistic: 'p50', period: oneMinute }),
      latencyP99: apiStage.metricLatency({ statistic: 'p99', period: oneMinute }),
      clientErrors: apiStage.metricClientError({ statistic: 'Sum', period: oneMinute }),
      rateLimitedRate: new MathExpression({
        label: '429 rate (%)',
        expression: 'IF(requests > 0, 100 * limited / requests, 0)',
        usingMetrics: { requests, limited: rateLimited },
        period: oneMinute,
      }),
      throttled,
      serverErrorRate: new MathExpression({
        label: '5xx rate (%)',
        expression: 'IF(requests > 0, 100 * errors / requests, 0)',
        usingMetrics: { requests, errors: serverErrors },
        period: oneMinute,
      }),
    },
    saga: {
      started: stateMachine.metricStarted({ statistic: 'Sum', period: fiveMinutes }),
      succeeded: stateMachine.metricSucceeded({ statistic: 'Sum', period: fiveMinutes }),
      failures: new MathExpression({
        label: 'Failed + timed out + aborted executions',
        expression: 'failed + timedOut + aborted',
        usingMetrics: sagaEnded(fiveMinutes),
        period: fiveMinutes,
      }),
      successRate: new MathExpression({
        label: 'Saga success rate (%)',
        expression: `IF(${ended} > 0, 100 * succeeded / (${ended}), 100)`,
        usingMetrics: {
          succeeded: stateMachine.metricSucceeded({ statistic: 'Sum', period: oneHour }),
          ...sagaEnded(oneHour),
        },
        period: oneHour,
      }),
    },
    compensations: {
      queueDepth: props.compensationQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: oneMinute,
      }),
      deadLetterDepth: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: oneMinute,
      }),
      oldestAge: props.compensationQueue.metricApproximateAgeOfOldestMessage({
        statistic: 'Maximum',
        period: oneMinute,
      }),
      failureRate: new MathExpression({
        label: 'Compensation attempts failed (%)',
        expression: `IF(attempts >= ${ALARM_THRESHOLDS.compensationFailureRateMinAttempts}, 100 * failures / attempts, 0)`,
        usingMetrics: {
          attempts: compensationMetric(COMPENSATION_METRIC_NAMES.attempts, 'Sum'),
          failures: compensationMetric(COMPENSATION_METRIC_NAMES.attemptFailures, 'Sum'),
        },
        period: fiveMinutes,
      }),
      timeToResolve: (statistic: string) =>
        compensationMetric(COMPENSATION_METRIC_NAMES.timeToResolve, statistic, oneHour).with({
          label: `Failure to resolution ${statistic} (s)`,
        }),
    },
    // Saga starts that failed or were throttled at checkout (docs/adr/0019): sent is how often the
    // buffer was needed, age how far behind the starter is.
    sagaStarts: {
      buffered: props.sagaStartQueue
        .metricNumberOfMessagesSent({ statistic: 'Sum', period: oneMinute })
        .with({ label: 'Starts handed to the queue' }),
      queueDepth: props.sagaStartQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: oneMinute,
      }),
      deadLetterDepth: props.sagaStartDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: oneMinute,
      }),
      oldestAge: props.sagaStartQueue.metricApproximateAgeOfOldestMessage({
        statistic: 'Maximum',
        period: oneMinute,
      }),
    },
    // Every alarm notifies the topic on ALARM and on OK: what the on-call person receives.
    alertVolume: props.topic
      .metricNumberOfMessagesPublished({ statistic: 'Sum', period: oneHour })
      .with({ label: 'Alert notifications' }),
    functions: [...props.functions].map(([name, fn], index): FunctionSignals => {
      // Metric ids are unique per function: the dashboard graphs every error rate together.
      const [invocations, errors] = [`invocations${index}`, `errors${index}`];
      return {
        name,
        errorRate: new MathExpression({
          label: name,
          expression: `IF(${invocations} > 0, 100 * ${errors} / ${invocations}, 0)`,
          usingMetrics: {
            [invocations]: fn.metricInvocations({ statistic: 'Sum', period: fiveMinutes }),
            [errors]: fn.metricErrors({ statistic: 'Sum', period: fiveMinutes }),
          },
          period: fiveMinutes,
        }),
        throttles: fn.metricThrottles({ statistic: 'Sum', period: fiveMinutes }),
      };
    }),
    concurrency: {
      // The account's concurrency Lambda counts as taken (reservations included), against the
      // quota the budget says the stage needs.
      claimedPercent: new MathExpression({
        label: 'Account concurrency claimed (%)',
        expression: `100 * claimed / ${props.accountConcurrency}`,
        usingMetrics: {
          claimed: new Metric({
            namespace: 'AWS/Lambda',
            metricName: 'ClaimedAccountConcurrency',
            statistic: 'Maximum',
            period: oneMinute,
          }),
        },
        period: oneMinute,
      }),
    },
    database: {
      proxyMetric,
      proxySaturation: new MathExpression({
        label: 'Proxy connections used (%)',
        expression: 'IF(allowed > 0, 100 * used / allowed, 0)',
        usingMetrics: {
          // Sum, as AWS documents for these proxy metrics: each proxy node reports its own share.
          used: proxyMetric('DatabaseConnections', 'Sum'),
          allowed: proxyMetric('MaxDatabaseConnectionsAllowed', 'Sum'),
        },
        period: oneMinute,
      }),
      cpu: props.database.metricCPUUtilization({ period: oneMinute }),
      freeStorage: props.database.metricFreeStorageSpace({ period: fiveMinutes }),
    },
  };
}

export type MonitoringSignals = ReturnType<typeof monitoringSignals>;

/** The alarm thresholds (docs/runbooks/README.md), in one place so the tests and the runbooks can name them. */
export const ALARM_THRESHOLDS = {
  /** API p99 latency, milliseconds. */
  apiLatencyP99Ms: 2_000,
  /** Share of API requests answered 5xx, percent. */
  api5xxRatePercent: 5,
  /** Failed, timed-out or aborted saga executions in 5 minutes. */
  sagaFailures: 1,
  /** Messages in the compensation dead-letter queue. */
  deadLetterMessages: 1,
  /** Age of the oldest compensation waiting for the worker, seconds. */
  compensationAgeSeconds: 600,
  /** Messages in the saga-start dead-letter queue. */
  sagaStartDeadLetterMessages: 1,
  /**
   * Age of the oldest saga start waiting for the starter, seconds: the buffer drains in seconds, so
   * two minutes behind for three minutes running means starts are refused or the starter is down.
   */
  sagaStartAgeSeconds: 120,
  /** Share of a function's invocations that fail, percent. */
  lambdaErrorRatePercent: 5,
  /** Throttled invocations of a function in 5 minutes. */
  lambdaThrottles: 1,
  /** Proxy connections to the database as a share of what it may open, percent. */
  proxyConnectionSaturationPercent: 80,
  /** Share of API requests answered 429 (customer limits, firewall, stage throttle), percent. */
  apiRateLimitedPercent: 5,
  /** Requests API Gateway throttled (stage throttle or usage plan) in a minute. */
  apiThrottledPerMinute: 1,
  /** The account's concurrency claimed, as a share of the quota the budget needs, percent. */
  accountConcurrencyPercent: 80,
  /** Share of the compensation worker's attempts that fail, percent (two 5-minute periods in a row). */
  compensationFailureRatePercent: 50,
  /** Below this many attempts in 5 minutes the failure rate counts as 0 (one retry is no trend). */
  compensationFailureRateMinAttempts: 3,
} as const;
