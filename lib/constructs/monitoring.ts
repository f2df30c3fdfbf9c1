import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { DatabaseInstance, DatabaseProxy } from 'aws-cdk-lib/aws-rds';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { createAlarms } from './monitoring-alarms.js';
import { createDashboard } from './monitoring-dashboard.js';
import { monitoringSignals } from './monitoring-signals.js';

export { ALARM_THRESHOLDS } from './monitoring-signals.js';

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

/**
 * The alarms (docs/runbooks/README.md) wired to the ops topic, and one dashboard with the same signals:
 * API p99 and 5xx rate, saga failures, compensation DLQ depth and queue age, saga-start queue age
 * and DLQ depth, per-function error
 * rate and throttles, RDS Proxy connection saturation. The signals are built once
 * (`monitoring-signals.ts`), the alarms (`monitoring-alarms.ts`) and the dashboard
 * (`monitoring-dashboard.ts`) read them; both live in this construct, whose ids they keep.
 */
export class Monitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly apiLatencyAlarm: Alarm;
  readonly api5xxRateAlarm: Alarm;
  readonly sagaFailuresAlarm: Alarm;
  readonly deadLetterQueueAlarm: Alarm;
  readonly compensationAgeAlarm: Alarm;
  readonly sagaStartDeadLetterAlarm: Alarm;
  readonly sagaStartAgeAlarm: Alarm;
  readonly proxySaturationAlarm: Alarm;
  readonly compensationFailureRateAlarm: Alarm;
  readonly apiRateLimitedAlarm: Alarm;
  readonly apiThrottledAlarm: Alarm;
  readonly accountConcurrencyAlarm: Alarm;
  /** Error-rate and throttle alarms of each function, by the name given in `functions`. */
  readonly functionAlarms: ReadonlyMap<string, { readonly errors: Alarm; readonly throttles: Alarm }>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const signals = monitoringSignals(this, props);
    const alarms = createAlarms(this, props.topic, signals, props.deadLetterQueueConsoleUrl);
    this.apiLatencyAlarm = alarms.apiLatencyAlarm;
    this.api5xxRateAlarm = alarms.api5xxRateAlarm;
    this.sagaFailuresAlarm = alarms.sagaFailuresAlarm;
    this.deadLetterQueueAlarm = alarms.deadLetterQueueAlarm;
    this.compensationAgeAlarm = alarms.compensationAgeAlarm;
    this.compensationFailureRateAlarm = alarms.compensationFailureRateAlarm;
    this.sagaStartDeadLetterAlarm = alarms.sagaStartDeadLetterAlarm;
    this.sagaStartAgeAlarm = alarms.sagaStartAgeAlarm;
    this.proxySaturationAlarm = alarms.proxySaturationAlarm;
    this.apiRateLimitedAlarm = alarms.apiRateLimitedAlarm;
    this.apiThrottledAlarm = alarms.apiThrottledAlarm;
    this.accountConcurrencyAlarm = alarms.accountConcurrencyAlarm;
    this.functionAlarms = alarms.functionAlarms;
    this.dashboard = createDashboard(this, signals, alarms.all);
  }
}
