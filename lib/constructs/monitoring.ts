import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { createAlarms } from './monitoring-alarms.js';
import { createDashboard } from './monitoring-dashboard.js';
import { type MonitoringProps, monitoringSignals } from './monitoring-signals.js';

export { ALARM_THRESHOLDS, type MonitoringProps } from './monitoring-signals.js';

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
