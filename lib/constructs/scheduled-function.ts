import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Schedule, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../policy-validation.js';
import { CheckoutFunction, type CheckoutFunctionProps } from './checkout-function.js';
import { liveAlias } from './live-alias.js';

export interface ScheduledFunctionProps extends CheckoutFunctionProps {
  /** When EventBridge Scheduler invokes the function. */
  readonly schedule: ScheduleExpression;
  readonly scheduleDescription: string;
  /** What happens to the failed-runs queue when it leaves the stack. @default RemovalPolicy.DESTROY */
  readonly failedRunsRemovalPolicy?: RemovalPolicy;
}

/**
 * A function invoked by an EventBridge Scheduler schedule. A failed run is not retried, neither by
 * the schedule nor by Lambda's asynchronous retries: the next tick does the same work (the jobs are
 * idempotent and lease their rows). Each failed run is recorded on {@link failedRuns}, which
 * `JobAlarms` watches, so a job failing on every tick is seen rather than retried in silence.
 */
export class ScheduledFunction extends Construct {
  readonly handler: CheckoutFunction;
  readonly schedule: Schedule;
  /** The failure destination: one message (the event and the error) per failed run, kept 4 days. */
  readonly failedRuns: Queue;

  constructor(scope: Construct, id: string, props: ScheduledFunctionProps) {
    super(scope, id);
    const { schedule, scheduleDescription, failedRunsRemovalPolicy, ...functionProps } = props;
    this.handler = new CheckoutFunction(this, 'Handler', functionProps);
    this.failedRuns = new Queue(this, 'FailedRuns', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      ...(failedRunsRemovalPolicy ? { removalPolicy: failedRunsRemovalPolicy } : {}),
    });
    // Scheduler invokes the `live` alias, and Lambda applies the asynchronous-invoke settings of the
    // qualifier invoked: they belong on the alias, not on $LATEST.
    const live = liveAlias(this.handler);
    live.configureAsyncInvoke({
      retryAttempts: 0,
      onFailure: new SqsDestination(this.failedRuns),
    });
    const noDeadLetterQueue =
      'This queue is itself a failure destination (failed scheduled runs, for the alarm and the operator); ' +
      'nothing consumes it, so it needs no dead-letter queue of its own.';
    Validations.of(this.failedRuns).acknowledge({ id: 'AwsSolutions-SQS3', reason: noDeadLetterQueue });
    acknowledgeControl(this.failedRuns, 'CT.SQS.PR.1', noDeadLetterQueue);
    // A role of its own, instead of the stack-level one LambdaInvoke would share between targets.
    const invokeRole = new Role(this, 'InvokeRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `Lets EventBridge Scheduler invoke ${functionProps.entry}`,
    });
    this.schedule = new Schedule(this, 'Schedule', {
      schedule,
      description: scheduleDescription,
      // The `live` alias, so a deploy shifts the ticks between the old and the new version.
      target: new LambdaInvoke(live, {
        role: invokeRole,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });
  }
}
