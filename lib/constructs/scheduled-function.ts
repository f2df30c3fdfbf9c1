import { Duration, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Schedule, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { CheckoutFunction, type CheckoutFunctionProps } from './checkout-function.js';
import { liveAlias } from './live-alias.js';

export interface ScheduledFunctionProps extends CheckoutFunctionProps {
  /** When EventBridge Scheduler invokes the function. */
  readonly schedule: ScheduleExpression;
  readonly scheduleDescription: string;
}

/**
 * A function invoked by an EventBridge Scheduler schedule. A missed or failed run is not retried:
 * the next tick does the same work (the jobs are idempotent and lease their rows).
 */
export class ScheduledFunction extends Construct {
  readonly handler: CheckoutFunction;
  readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: ScheduledFunctionProps) {
    super(scope, id);
    const { schedule, scheduleDescription, ...functionProps } = props;
    this.handler = new CheckoutFunction(this, 'Handler', functionProps);
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
      target: new LambdaInvoke(liveAlias(this.handler), {
        role: invokeRole,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });
  }
}
