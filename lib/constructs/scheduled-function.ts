import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { CheckoutFunction, type CheckoutFunctionProps } from './checkout-function.js';

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
      target: new LambdaInvoke(this.handler.function, {
        role: invokeRole,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });

    const logicalId = Stack.of(this).getLogicalId(this.handler.function.node.defaultChild as CfnFunction);
    Validations.of(invokeRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason:
        'Added by the Scheduler LambdaInvoke target (grantInvoke covers versions and aliases); the function is ' +
        'unversioned, so this is exactly the one function the schedule invokes.',
    });
  }
}
