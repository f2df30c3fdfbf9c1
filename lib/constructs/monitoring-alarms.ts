import { Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ALARM_THRESHOLDS, type MonitoringSignals } from './monitoring-signals.js';

/** The alarms of the service, each with its runbook (docs/runbooks/README.md). */
export interface CheckoutAlarms {
  readonly apiLatencyAlarm: Alarm;
  readonly api5xxRateAlarm: Alarm;
  readonly sagaFailuresAlarm: Alarm;
  readonly deadLetterQueueAlarm: Alarm;
  readonly compensationAgeAlarm: Alarm;
  readonly compensationFailureRateAlarm: Alarm;
  readonly sagaStartDeadLetterAlarm: Alarm;
  readonly sagaStartAgeAlarm: Alarm;
  readonly proxySaturationAlarm: Alarm;
  readonly apiRateLimitedAlarm: Alarm;
  readonly apiThrottledAlarm: Alarm;
  readonly accountConcurrencyAlarm: Alarm;
  /** Error-rate and throttle alarms of each function, by name. */
  readonly functionAlarms: ReadonlyMap<string, { readonly errors: Alarm; readonly throttles: Alarm }>;
  /** Every alarm above, in dashboard order. */
  readonly all: readonly Alarm[];
}

interface AlarmSpec {
  readonly description: string;
  readonly metric: IMetric;
  readonly threshold: number;
  /** `>` by default; `>=` for counts where one is already too many. */
  readonly atLeast?: boolean;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
}

/**
 * Creates the alarms in `scope` (construct ids are part of the contract: the alarm names derive
 * from them, and a changed id would replace the alarm), each notifying `topic` on ALARM and OK.
 */
export function createAlarms(
  scope: Construct,
  topic: ITopic,
  signals: MonitoringSignals,
  deadLetterQueueConsoleUrl: string | undefined,
): CheckoutAlarms {
  const notify = new SnsAction(topic);
  const all: Alarm[] = [];
  // Stable, readable names (the runbooks search by them): <stack>-<alarm construct id>.
  const alarm = (parent: Construct, id: string, name: string, spec: AlarmSpec): Alarm => {
    const created = new Alarm(parent, id, {
      alarmName: `${Stack.of(scope).stackName}-${name}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.atLeast
        ? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        : ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: spec.evaluationPeriods,
      ...(spec.datapointsToAlarm ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    created.addAlarmAction(notify);
    created.addOkAction(notify);
    all.push(created);
    return created;
  };
  const top = (id: string, spec: AlarmSpec) => alarm(scope, id, id, spec);

  const apiLatencyAlarm = top('ApiLatencyP99', {
    description: `Checkout API p99 latency above ${ALARM_THRESHOLDS.apiLatencyP99Ms} ms in 3 of 5 minutes`,
    metric: signals.api.latencyP99,
    threshold: ALARM_THRESHOLDS.apiLatencyP99Ms,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });
  const api5xxRateAlarm = top('Api5xxRate', {
    description: `Checkout API 5xx responses above ${ALARM_THRESHOLDS.api5xxRatePercent} % in 3 of 5 minutes`,
    metric: signals.api.serverErrorRate,
    threshold: ALARM_THRESHOLDS.api5xxRatePercent,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });
  const sagaFailuresAlarm = top('SagaFailures', {
    description:
      'A payment saga execution failed: a compensation could not complete and its order is REQUIRES_ATTENTION ' +
      '(the rest is on the compensation queue), or the saga itself broke.',
    metric: signals.saga.failures,
    threshold: ALARM_THRESHOLDS.sagaFailures,
    atLeast: true,
    evaluationPeriods: 1,
  });
  const deadLetterQueueAlarm = top('CompensationDeadLetters', {
    description:
      'A compensation failed on every attempt and sits in the compensation DLQ. Fix the cause, then redrive ' +
      `the DLQ to its source queue from the SQS console${deadLetterQueueConsoleUrl ? `: ${deadLetterQueueConsoleUrl}` : ''}`,
    metric: signals.compensations.deadLetterDepth,
    threshold: ALARM_THRESHOLDS.deadLetterMessages,
    atLeast: true,
    evaluationPeriods: 1,
  });
  const compensationAgeAlarm = top('CompensationQueueAge', {
    description: `A compensation has waited more than ${ALARM_THRESHOLDS.compensationAgeSeconds} s for the worker`,
    metric: signals.compensations.oldestAge,
    threshold: ALARM_THRESHOLDS.compensationAgeSeconds,
    evaluationPeriods: 3,
  });
  const compensationFailureRateAlarm = top('CompensationFailureRate', {
    description:
      `More than ${ALARM_THRESHOLDS.compensationFailureRatePercent} % of the compensation worker's attempts ` +
      'failed in 2 consecutive 5-minute periods: voids, refunds or releases are failing systematically.',
    metric: signals.compensations.failureRate,
    threshold: ALARM_THRESHOLDS.compensationFailureRatePercent,
    evaluationPeriods: 2,
  });
  const sagaStartDeadLetterAlarm = top('SagaStartDeadLetters', {
    description:
      'A saga start was refused on every attempt and sits in the saga-start DLQ. Its order is committed and ' +
      'PENDING; the sweeper starts its saga. Find why StartExecution fails (docs/runbooks/saga-start-backlog.md).',
    metric: signals.sagaStarts.deadLetterDepth,
    threshold: ALARM_THRESHOLDS.sagaStartDeadLetterMessages,
    atLeast: true,
    evaluationPeriods: 1,
  });
  const sagaStartAgeAlarm = top('SagaStartQueueAge', {
    description:
      `A saga start has waited more than ${ALARM_THRESHOLDS.sagaStartAgeSeconds} s for the saga starter ` +
      'for 3 minutes: StartExecution is throttled or failing, or the starter is not running.',
    metric: signals.sagaStarts.oldestAge,
    threshold: ALARM_THRESHOLDS.sagaStartAgeSeconds,
    evaluationPeriods: 3,
  });

  const functionAlarms = new Map<string, { errors: Alarm; throttles: Alarm }>();
  for (const { name, errorRate, throttles } of signals.functions) {
    const parent = new Construct(scope, name);
    functionAlarms.set(name, {
      errors: alarm(parent, 'ErrorRate', `${name}-ErrorRate`, {
        description: `${name}: more than ${ALARM_THRESHOLDS.lambdaErrorRatePercent} % of invocations failed in 2 consecutive 5-minute periods`,
        metric: errorRate,
        threshold: ALARM_THRESHOLDS.lambdaErrorRatePercent,
        evaluationPeriods: 2,
      }),
      throttles: alarm(parent, 'Throttles', `${name}-Throttles`, {
        description: `${name}: invocations throttled (concurrency limit reached)`,
        metric: throttles,
        threshold: ALARM_THRESHOLDS.lambdaThrottles,
        atLeast: true,
        evaluationPeriods: 1,
      }),
    });
  }

  const proxySaturationAlarm = top('ProxyConnectionSaturation', {
    description: `RDS Proxy uses more than ${ALARM_THRESHOLDS.proxyConnectionSaturationPercent} % of the database connections it may open`,
    metric: signals.database.proxySaturation,
    threshold: ALARM_THRESHOLDS.proxyConnectionSaturationPercent,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });

  const apiRateLimitedAlarm = top('ApiRateLimited', {
    description:
      `More than ${ALARM_THRESHOLDS.apiRateLimitedPercent} % of API requests answered 429 in 3 of 5 minutes: ` +
      'customers over their limits (or the stage throttle), more than one busy customer would cause.',
    metric: signals.api.rateLimitedRate,
    threshold: ALARM_THRESHOLDS.apiRateLimitedPercent,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });
  const apiThrottledAlarm = top('ApiThrottled', {
    description:
      'API Gateway throttled requests (429 THROTTLED) in 3 of 5 minutes: the stage throttle, shared by every ' +
      'customer, is spent; the load is above what the budget sized the stage for.',
    metric: signals.api.throttled,
    threshold: ALARM_THRESHOLDS.apiThrottledPerMinute,
    atLeast: true,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });
  const accountConcurrencyAlarm = top('AccountConcurrency', {
    description:
      `The account's claimed Lambda concurrency is above ${ALARM_THRESHOLDS.accountConcurrencyPercent} % of the ` +
      'quota the stage needs (README, "Deploy to AWS"): unreserved functions are close to being throttled.',
    metric: signals.concurrency.claimedPercent,
    threshold: ALARM_THRESHOLDS.accountConcurrencyPercent,
    evaluationPeriods: 5,
    datapointsToAlarm: 3,
  });

  return {
    apiRateLimitedAlarm,
    apiThrottledAlarm,
    accountConcurrencyAlarm,
    apiLatencyAlarm,
    api5xxRateAlarm,
    sagaFailuresAlarm,
    deadLetterQueueAlarm,
    compensationAgeAlarm,
    compensationFailureRateAlarm,
    sagaStartDeadLetterAlarm,
    sagaStartAgeAlarm,
    proxySaturationAlarm,
    functionAlarms,
    all,
  };
}
