import { Duration, Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { DatabaseInstance, DatabaseProxy } from 'aws-cdk-lib/aws-rds';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { COMPENSATION_METRIC_NAMES } from '../../src/saga/compensation-metrics.js';

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
  /** Share of a function's invocations that fail, percent. */
  lambdaErrorRatePercent: 5,
  /** Throttled invocations of a function in 5 minutes. */
  lambdaThrottles: 1,
  /** Proxy connections to the database as a share of what it may open, percent. */
  proxyConnectionSaturationPercent: 80,
  /** Share of the compensation worker's attempts that fail, percent (two 5-minute periods in a row). */
  compensationFailureRatePercent: 50,
  /** Below this many attempts in 5 minutes the failure rate counts as 0 (one retry is no trend). */
  compensationFailureRateMinAttempts: 3,
} as const;

export interface MonitoringProps {
  /** Every alarm notifies this topic (alarm and back to OK). */
  readonly topic: ITopic;
  readonly apiStage: Stage;
  readonly stateMachine: IStateMachine;
  readonly compensationQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The functions to watch for errors and throttles, by a stable name (a construct id each). */
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly proxy: DatabaseProxy;
  readonly database: DatabaseInstance;
  /** Console link to the dead-letter queue, quoted in the DLQ alarm's description. @default - none */
  readonly deadLetterQueueConsoleUrl?: string;
  /** Namespace of the functions' Powertools metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
  readonly metricsNamespace: string;
  /** Their `service` dimension (`POWERTOOLS_SERVICE_NAME`). */
  readonly serviceName: string;
}

/**
 * The alarms (docs/runbooks/README.md) wired to the ops topic, and one dashboard with the same signals:
 * API p99 and 5xx rate, saga failures, compensation DLQ depth and queue age, per-function error
 * rate and throttles, RDS Proxy connection saturation.
 */
export class Monitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly apiLatencyAlarm: Alarm;
  readonly api5xxRateAlarm: Alarm;
  readonly sagaFailuresAlarm: Alarm;
  readonly deadLetterQueueAlarm: Alarm;
  readonly compensationAgeAlarm: Alarm;
  readonly proxySaturationAlarm: Alarm;
  readonly compensationFailureRateAlarm: Alarm;
  /** Error-rate and throttle alarms of each function, by the name given in `functions`. */
  readonly functionAlarms: ReadonlyMap<string, { readonly errors: Alarm; readonly throttles: Alarm }>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const notify = new SnsAction(props.topic);
    const alarms: Alarm[] = [];
    const wire = (alarm: Alarm): Alarm => {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      alarms.push(alarm);
      return alarm;
    };
    // Stable, readable names (the runbooks search by them): <stack>-<alarm construct id>.
    const alarmName = (name: string) => `${Stack.of(this).stackName}-${name}`;
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    // API
    const latencyP99 = props.apiStage.metricLatency({ statistic: 'p99', period: oneMinute });
    this.apiLatencyAlarm = wire(
      new Alarm(this, 'ApiLatencyP99', {
        alarmName: alarmName('ApiLatencyP99'),
        alarmDescription: `Checkout API p99 latency above ${ALARM_THRESHOLDS.apiLatencyP99Ms} ms in 3 of 5 minutes`,
        metric: latencyP99,
        threshold: ALARM_THRESHOLDS.apiLatencyP99Ms,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    const requests = props.apiStage.metricCount({ statistic: 'Sum', period: oneMinute });
    const serverErrors = props.apiStage.metricServerError({ statistic: 'Sum', period: oneMinute });
    const serverErrorRate = new MathExpression({
      label: '5xx rate (%)',
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { requests, errors: serverErrors },
      period: oneMinute,
    });
    this.api5xxRateAlarm = wire(
      new Alarm(this, 'Api5xxRate', {
        alarmName: alarmName('Api5xxRate'),
        alarmDescription: `Checkout API 5xx responses above ${ALARM_THRESHOLDS.api5xxRatePercent} % in 3 of 5 minutes`,
        metric: serverErrorRate,
        threshold: ALARM_THRESHOLDS.api5xxRatePercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    // Saga and compensations
    const sagaFailures = new MathExpression({
      label: 'Failed + timed out + aborted executions',
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: props.stateMachine.metricFailed({ statistic: 'Sum', period: fiveMinutes }),
        timedOut: props.stateMachine.metricTimedOut({ statistic: 'Sum', period: fiveMinutes }),
        aborted: props.stateMachine.metricAborted({ statistic: 'Sum', period: fiveMinutes }),
      },
      period: fiveMinutes,
    });
    this.sagaFailuresAlarm = wire(
      new Alarm(this, 'SagaFailures', {
        alarmName: alarmName('SagaFailures'),
        alarmDescription:
          'A payment saga execution failed: a compensation could not complete and its order is REQUIRES_ATTENTION ' +
          '(the rest is on the compensation queue), or the saga itself broke.',
        metric: sagaFailures,
        threshold: ALARM_THRESHOLDS.sagaFailures,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    const deadLetterDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: oneMinute,
    });
    this.deadLetterQueueAlarm = wire(
      new Alarm(this, 'CompensationDeadLetters', {
        alarmName: alarmName('CompensationDeadLetters'),
        alarmDescription:
          'A compensation failed on every attempt and sits in the compensation DLQ. Fix the cause, then redrive ' +
          `the DLQ to its source queue from the SQS console${props.deadLetterQueueConsoleUrl ? `: ${props.deadLetterQueueConsoleUrl}` : ''}`,
        metric: deadLetterDepth,
        threshold: ALARM_THRESHOLDS.deadLetterMessages,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    const compensationAge = props.compensationQueue.metricApproximateAgeOfOldestMessage({
      statistic: 'Maximum',
      period: oneMinute,
    });
    this.compensationAgeAlarm = wire(
      new Alarm(this, 'CompensationQueueAge', {
        alarmName: alarmName('CompensationQueueAge'),
        alarmDescription: `A compensation has waited more than ${ALARM_THRESHOLDS.compensationAgeSeconds} s for the worker`,
        metric: compensationAge,
        threshold: ALARM_THRESHOLDS.compensationAgeSeconds,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    // KPIs: the compensation worker's metrics (src/saga/compensation-metrics.ts)
    const compensationMetric = (metricName: string, statistic: string, period = fiveMinutes) =>
      new Metric({
        namespace: props.metricsNamespace,
        metricName,
        dimensionsMap: { service: props.serviceName },
        statistic,
        period,
      });
    const compensationFailureRate = new MathExpression({
      label: 'Compensation attempts failed (%)',
      expression: `IF(attempts >= ${ALARM_THRESHOLDS.compensationFailureRateMinAttempts}, 100 * failures / attempts, 0)`,
      usingMetrics: {
        attempts: compensationMetric(COMPENSATION_METRIC_NAMES.attempts, 'Sum'),
        failures: compensationMetric(COMPENSATION_METRIC_NAMES.attemptFailures, 'Sum'),
      },
      period: fiveMinutes,
    });
    this.compensationFailureRateAlarm = wire(
      new Alarm(this, 'CompensationFailureRate', {
        alarmName: alarmName('CompensationFailureRate'),
        alarmDescription:
          `More than ${ALARM_THRESHOLDS.compensationFailureRatePercent} % of the compensation worker's attempts ` +
          'failed in 2 consecutive 5-minute periods: voids, refunds or releases are failing systematically.',
        metric: compensationFailureRate,
        threshold: ALARM_THRESHOLDS.compensationFailureRatePercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    const oneHour = Duration.hours(1);
    // Executions that ended; a cleanly cancelled order (declined card) is a success of the saga.
    const ended = 'succeeded + failed + timedOut + aborted';
    const sagaSuccessRate = new MathExpression({
      label: 'Saga success rate (%)',
      expression: `IF(${ended} > 0, 100 * succeeded / (${ended}), 100)`,
      usingMetrics: {
        succeeded: props.stateMachine.metricSucceeded({ statistic: 'Sum', period: oneHour }),
        failed: props.stateMachine.metricFailed({ statistic: 'Sum', period: oneHour }),
        timedOut: props.stateMachine.metricTimedOut({ statistic: 'Sum', period: oneHour }),
        aborted: props.stateMachine.metricAborted({ statistic: 'Sum', period: oneHour }),
      },
      period: oneHour,
    });
    const timeToResolve = (statistic: string) =>
      compensationMetric(COMPENSATION_METRIC_NAMES.timeToResolve, statistic, oneHour).with({
        label: `Failure to resolution ${statistic} (s)`,
      });
    // Every alarm notifies the topic on ALARM and on OK: what the on-call person receives.
    const alertVolume = props.topic
      .metricNumberOfMessagesPublished({ statistic: 'Sum', period: oneHour })
      .with({ label: 'Alert notifications' });

    // Functions
    const functionAlarms = new Map<string, { errors: Alarm; throttles: Alarm }>();
    const errorRates: MathExpression[] = [];
    const throttleMetrics: Metric[] = [];
    for (const [index, [name, fn]] of [...props.functions].entries()) {
      const scope = new Construct(this, name);
      // Metric ids are unique per function: the dashboard graphs every error rate together.
      const [invocations, errors] = [`invocations${index}`, `errors${index}`];
      const errorRate = new MathExpression({
        label: name,
        expression: `IF(${invocations} > 0, 100 * ${errors} / ${invocations}, 0)`,
        usingMetrics: {
          [invocations]: fn.metricInvocations({ statistic: 'Sum', period: fiveMinutes }),
          [errors]: fn.metricErrors({ statistic: 'Sum', period: fiveMinutes }),
        },
        period: fiveMinutes,
      });
      const throttles = fn.metricThrottles({ statistic: 'Sum', period: fiveMinutes });
      errorRates.push(errorRate);
      throttleMetrics.push(throttles.with({ label: name }));
      functionAlarms.set(name, {
        errors: wire(
          new Alarm(scope, 'ErrorRate', {
            alarmName: alarmName(`${name}-ErrorRate`),
            alarmDescription: `${name}: more than ${ALARM_THRESHOLDS.lambdaErrorRatePercent} % of invocations failed in 2 consecutive 5-minute periods`,
            metric: errorRate,
            threshold: ALARM_THRESHOLDS.lambdaErrorRatePercent,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 2,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
        ),
        throttles: wire(
          new Alarm(scope, 'Throttles', {
            alarmName: alarmName(`${name}-Throttles`),
            alarmDescription: `${name}: invocations throttled (concurrency limit reached)`,
            metric: throttles,
            threshold: ALARM_THRESHOLDS.lambdaThrottles,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
        ),
      });
    }
    this.functionAlarms = functionAlarms;

    // Database proxy
    const proxyMetric = (metricName: string, statistic = 'Maximum') =>
      new Metric({
        namespace: 'AWS/RDS',
        metricName,
        dimensionsMap: { ProxyName: props.proxy.dbProxyName },
        statistic,
        period: oneMinute,
      });
    const proxySaturation = new MathExpression({
      label: 'Proxy connections used (%)',
      expression: 'IF(allowed > 0, 100 * used / allowed, 0)',
      usingMetrics: {
        // Sum, as AWS documents for these proxy metrics: each proxy node reports its own share.
        used: proxyMetric('DatabaseConnections', 'Sum'),
        allowed: proxyMetric('MaxDatabaseConnectionsAllowed', 'Sum'),
      },
      period: oneMinute,
    });
    this.proxySaturationAlarm = wire(
      new Alarm(this, 'ProxyConnectionSaturation', {
        alarmName: alarmName('ProxyConnectionSaturation'),
        alarmDescription: `RDS Proxy uses more than ${ALARM_THRESHOLDS.proxyConnectionSaturationPercent} % of the database connections it may open`,
        metric: proxySaturation,
        threshold: ALARM_THRESHOLDS.proxyConnectionSaturationPercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# Checkout\nAPI, payment saga, compensations, functions and database. Every alarm below notifies the ops topic.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 4 }));
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'KPIs over the dashboard period',
        metrics: [sagaSuccessRate, compensationFailureRate, timeToResolve('p90'), alertVolume],
        setPeriodToTimeRange: true,
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Saga success rate (%)',
        left: [sagaSuccessRate],
        leftYAxis: { min: 0, max: 100 },
        width: 6,
      }),
      new GraphWidget({
        title: 'Compensation failure rate (%)',
        left: [compensationFailureRate],
        leftAnnotations: [threshold(ALARM_THRESHOLDS.compensationFailureRatePercent, 'failure-rate alarm')],
        width: 6,
      }),
      new GraphWidget({
        title: 'Compensation failure to resolution (s)',
        left: [timeToResolve('p50'), timeToResolve('p90'), timeToResolve('Maximum')],
        width: 6,
      }),
      new GraphWidget({ title: 'Alert volume (ops topic notifications)', left: [alertVolume], width: 6 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API requests and 5xx rate',
        left: [requests],
        right: [serverErrorRate],
        rightAnnotations: [threshold(ALARM_THRESHOLDS.api5xxRatePercent, '5xx alarm')],
        width: 8,
      }),
      new GraphWidget({
        title: 'API latency',
        left: [props.apiStage.metricLatency({ statistic: 'p50', period: oneMinute }), latencyP99],
        leftAnnotations: [threshold(ALARM_THRESHOLDS.apiLatencyP99Ms, 'p99 alarm')],
        width: 8,
      }),
      new GraphWidget({
        title: 'API 4xx',
        left: [props.apiStage.metricClientError({ statistic: 'Sum', period: oneMinute })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Payment saga executions',
        left: [
          props.stateMachine.metricStarted({ statistic: 'Sum', period: fiveMinutes }),
          props.stateMachine.metricSucceeded({ statistic: 'Sum', period: fiveMinutes }),
          sagaFailures,
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Compensations: queue depth and DLQ',
        left: [
          props.compensationQueue.metricApproximateNumberOfMessagesVisible({
            statistic: 'Maximum',
            period: oneMinute,
          }),
          deadLetterDepth,
        ],
        leftAnnotations: [threshold(ALARM_THRESHOLDS.deadLetterMessages, 'DLQ alarm')],
        width: 8,
      }),
      new GraphWidget({
        title: 'Compensations: oldest message age (s)',
        left: [compensationAge],
        leftAnnotations: [threshold(ALARM_THRESHOLDS.compensationAgeSeconds, 'age alarm')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Function error rate (%)',
        left: errorRates,
        leftAnnotations: [threshold(ALARM_THRESHOLDS.lambdaErrorRatePercent, 'error alarm')],
        width: 12,
      }),
      new GraphWidget({ title: 'Function throttles', left: throttleMetrics, width: 12 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'RDS Proxy connections',
        left: [proxyMetric('ClientConnections'), proxyMetric('DatabaseConnections')],
        right: [proxySaturation],
        rightAnnotations: [threshold(ALARM_THRESHOLDS.proxyConnectionSaturationPercent, 'saturation alarm')],
        width: 8,
      }),
      new GraphWidget({
        title: 'RDS Proxy borrow latency (µs) and pinned connections',
        left: [proxyMetric('DatabaseConnectionsBorrowLatency', 'p99')],
        right: [proxyMetric('DatabaseConnectionsCurrentlySessionPinned')],
        width: 8,
      }),
      new GraphWidget({
        title: 'Database CPU (%) and free storage',
        left: [props.database.metricCPUUtilization({ period: oneMinute })],
        right: [props.database.metricFreeStorageSpace({ period: fiveMinutes })],
        width: 8,
      }),
    );
  }
}

function threshold(value: number, label: string): HorizontalAnnotation {
  return { value, label };
}
