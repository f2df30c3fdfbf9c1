import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { DatabaseInstance } from 'aws-cdk-lib/aws-rds';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { ScheduledFunction } from './scheduled-function.js';

/** Thresholds of these alarms, for the tests and the runbooks. */
export const JOB_ALARM_THRESHOLDS = {
  /** Database instance CPU, percent, over 15 minutes. */
  databaseCpuPercent: 80,
  /** Free storage left on the instance, bytes (storage autoscaling adds room well before this). */
  databaseFreeStorageBytes: 5 * 1024 ** 3,
  /** Failed runs of a scheduled job recorded on its failure destination. */
  failedRuns: 1,
} as const;

export interface JobAlarmsProps {
  /** Every alarm notifies this topic (alarm and back to OK). */
  readonly topic: ITopic;
  readonly database: DatabaseInstance;
  /** The scheduled jobs, by a stable name (the construct id of their alarm). */
  readonly jobs: ReadonlyMap<string, ScheduledFunction>;
}

/**
 * Alarms on the database instance itself (CPU, free storage) and on the failed runs of the
 * scheduled jobs (their failure-destination queues), each named `<stack>-<construct id>` and
 * listed in docs/runbooks/README.md with its runbook.
 */
export class JobAlarms extends Construct {
  readonly databaseCpuAlarm: Alarm;
  readonly databaseFreeStorageAlarm: Alarm;
  /** The failed-runs alarm of each job, by the name given in `jobs`. */
  readonly failedRunAlarms: ReadonlyMap<string, Alarm>;

  constructor(scope: Construct, id: string, props: JobAlarmsProps) {
    super(scope, id);
    const notify = new SnsAction(props.topic);
    const alarmName = (name: string) => `${Stack.of(this).stackName}-${name}`;
    const wire = (alarm: Alarm): Alarm => {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      return alarm;
    };

    this.databaseCpuAlarm = wire(
      new Alarm(this, 'DatabaseCpu', {
        alarmName: alarmName('DatabaseCpu'),
        alarmDescription: `Database instance CPU above ${JOB_ALARM_THRESHOLDS.databaseCpuPercent} % for 15 minutes (docs/runbooks/database-capacity.md)`,
        metric: props.database.metricCPUUtilization({ statistic: 'Average', period: Duration.minutes(5) }),
        threshold: JOB_ALARM_THRESHOLDS.databaseCpuPercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.MISSING,
      }),
    );
    this.databaseFreeStorageAlarm = wire(
      new Alarm(this, 'DatabaseFreeStorage', {
        alarmName: alarmName('DatabaseFreeStorage'),
        alarmDescription:
          'Database instance has less than 5 GiB of free storage (docs/runbooks/database-capacity.md)',
        metric: props.database.metricFreeStorageSpace({ statistic: 'Minimum', period: Duration.minutes(5) }),
        threshold: JOB_ALARM_THRESHOLDS.databaseFreeStorageBytes,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // No data from the instance is itself worth a look.
        treatMissingData: TreatMissingData.BREACHING,
      }),
    );

    const failedRunAlarms = new Map<string, Alarm>();
    for (const [name, job] of props.jobs) {
      const alarmId = `${name}FailedRuns`;
      failedRunAlarms.set(
        name,
        wire(
          new Alarm(this, alarmId, {
            alarmName: alarmName(alarmId),
            alarmDescription: `A scheduled run of ${name} failed; the event and error are on queue ${job.failedRuns.queueName} (docs/runbooks/scheduled-job-failures.md)`,
            metric: job.failedRuns.metricApproximateNumberOfMessagesVisible({
              statistic: 'Maximum',
              period: Duration.minutes(1),
            }),
            threshold: JOB_ALARM_THRESHOLDS.failedRuns,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
        ),
      );
    }
    this.failedRunAlarms = failedRunAlarms;
  }
}
