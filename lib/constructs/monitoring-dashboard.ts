import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  SingleValueWidget,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { ALARM_THRESHOLDS, type MonitoringSignals } from './monitoring-signals.js';

function threshold(value: number, label: string): HorizontalAnnotation {
  return { value, label };
}

/**
 * The one dashboard (id `Dashboard` in `scope`): the alarms' states, the KPIs, and beside each
 * alarm the graph of the signal it watches, with its threshold drawn in.
 */
export function createDashboard(
  scope: Construct,
  signals: MonitoringSignals,
  alarms: readonly Alarm[],
): Dashboard {
  const { api, saga, compensations, sagaStarts, database } = signals;
  const dashboard = new Dashboard(scope, 'Dashboard', { defaultInterval: Duration.hours(3) });
  dashboard.addWidgets(
    new TextWidget({
      markdown:
        '# Checkout\nAPI, payment saga, compensations, functions and database. Every alarm below notifies the ops topic.',
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: [...alarms], width: 24, height: 4 }));
  dashboard.addWidgets(
    new SingleValueWidget({
      title: 'KPIs over the dashboard period',
      metrics: [
        saga.successRate,
        compensations.failureRate,
        compensations.timeToResolve('p90'),
        signals.alertVolume,
      ],
      setPeriodToTimeRange: true,
      width: 24,
      height: 3,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Saga success rate (%)',
      left: [saga.successRate],
      leftYAxis: { min: 0, max: 100 },
      width: 6,
    }),
    new GraphWidget({
      title: 'Compensation failure rate (%)',
      left: [compensations.failureRate],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.compensationFailureRatePercent, 'failure-rate alarm')],
      width: 6,
    }),
    new GraphWidget({
      title: 'Compensation failure to resolution (s)',
      left: [
        compensations.timeToResolve('p50'),
        compensations.timeToResolve('p90'),
        compensations.timeToResolve('Maximum'),
      ],
      width: 6,
    }),
    new GraphWidget({
      title: 'Alert volume (ops topic notifications)',
      left: [signals.alertVolume],
      width: 6,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'API requests and 5xx rate',
      left: [api.requests],
      right: [api.serverErrorRate],
      rightAnnotations: [threshold(ALARM_THRESHOLDS.api5xxRatePercent, '5xx alarm')],
      width: 8,
    }),
    new GraphWidget({
      title: 'API latency',
      left: [api.latencyP50, api.latencyP99],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.apiLatencyP99Ms, 'p99 alarm')],
      width: 8,
    }),
    new GraphWidget({ title: 'API 4xx', left: [api.clientErrors], width: 8 }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Payment saga executions',
      left: [saga.started, saga.succeeded, saga.failures],
      width: 8,
    }),
    new GraphWidget({
      title: 'Compensations: queue depth and DLQ',
      left: [compensations.queueDepth, compensations.deadLetterDepth],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.deadLetterMessages, 'DLQ alarm')],
      width: 8,
    }),
    new GraphWidget({
      title: 'Compensations: oldest message age (s)',
      left: [compensations.oldestAge],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.compensationAgeSeconds, 'age alarm')],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Saga starts handed to the queue (StartExecution failed or throttled)',
      left: [sagaStarts.buffered],
      width: 8,
    }),
    new GraphWidget({
      title: 'Saga-start queue: depth and DLQ',
      left: [sagaStarts.queueDepth, sagaStarts.deadLetterDepth],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.sagaStartDeadLetterMessages, 'DLQ alarm')],
      width: 8,
    }),
    new GraphWidget({
      title: 'Saga-start queue: oldest message age (s)',
      left: [sagaStarts.oldestAge],
      leftAnnotations: [threshold(ALARM_THRESHOLDS.sagaStartAgeSeconds, 'age alarm')],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Function error rate (%)',
      left: signals.functions.map((fn) => fn.errorRate),
      leftAnnotations: [threshold(ALARM_THRESHOLDS.lambdaErrorRatePercent, 'error alarm')],
      width: 12,
    }),
    new GraphWidget({
      title: 'Function throttles',
      left: signals.functions.map((fn) => fn.throttles.with({ label: fn.name })),
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new GraphWidget({
      title: 'RDS Proxy connections',
      left: [database.proxyMetric('ClientConnections'), database.proxyMetric('DatabaseConnections')],
      right: [database.proxySaturation],
      rightAnnotations: [threshold(ALARM_THRESHOLDS.proxyConnectionSaturationPercent, 'saturation alarm')],
      width: 8,
    }),
    new GraphWidget({
      title: 'RDS Proxy borrow latency (µs) and pinned connections',
      left: [database.proxyMetric('DatabaseConnectionsBorrowLatency', 'p99')],
      right: [database.proxyMetric('DatabaseConnectionsCurrentlySessionPinned')],
      width: 8,
    }),
    new GraphWidget({
      title: 'Database CPU (%) and free storage',
      left: [database.cpu],
      right: [database.freeStorage],
      width: 8,
    }),
  );
  return dashboard;
}
