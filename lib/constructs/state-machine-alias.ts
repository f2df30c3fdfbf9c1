import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import {
  CfnStateMachineAlias,
  CfnStateMachineVersion,
  type StateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as config from '../../src/config/variables.js';
import { setEnvironment } from './function-environment.js';

/** The alias every execution of the saga starts through. */
export const STATE_MACHINE_ALIAS_NAME = 'live';

export interface StateMachineLiveAliasProps {
  readonly stateMachine: StateMachine;
  /** Share of new executions the new version takes first. @default 10 */
  readonly canaryPercentage?: number;
  /**
   * How long the canary runs before the new version takes every new execution. Longer than the
   * API's 5 minutes: saga executions last minutes when they wait out the payment breaker, and the
   * saga-failure alarm has 5-minute periods, so it needs two of them to see the canary's outcome.
   * @default Duration.minutes(10)
   */
  readonly canaryInterval?: Duration;
}

/**
 * A version of the state machine published on every change of it, and the `live` alias new
 * executions start through. A new version takes a canary share of the new executions first; if a
 * given alarm goes into ALARM meanwhile, the alias goes back to the previous version and the
 * CloudFormation update fails. An execution keeps the version it started on to its end, whatever
 * the alias does later (docs/deploy.md, "Changing a saga task's input or output").
 */
export class StateMachineLiveAlias extends Construct {
  /** Published from the state machine's current revision; replaced (a new version) when it changes. */
  readonly version: CfnStateMachineVersion;
  readonly alias: CfnStateMachineAlias;
  /** What executions start on: `arn:...:stateMachine:<name>:live`. */
  readonly aliasArn: string;
  private readonly alarms: IAlarm[] = [];

  constructor(scope: Construct, id: string, props: StateMachineLiveAliasProps) {
    super(scope, id);
    const percentage = props.canaryPercentage ?? 10;
    const interval = props.canaryInterval ?? Duration.minutes(10);
    if (!Number.isInteger(percentage) || percentage < 1 || percentage > 99) {
      throw new Error(`canaryPercentage must be an integer from 1 to 99, got ${percentage}`);
    }

    // The revision id changes with every change of the definition or configuration, and a change of
    // it replaces this resource: that is what publishes one version per change.
    this.version = new CfnStateMachineVersion(this, 'Version', {
      stateMachineArn: props.stateMachine.stateMachineArn,
      stateMachineRevisionId: props.stateMachine.stateMachineRevisionId,
      description: 'Published by the deploy that changed the payment saga',
    });
    // Kept when a newer version replaces it, so the alias can be pointed back at it by hand
    // (docs/runbooks/deploy-rollback.md); deleting the state machine deletes its versions. A version
    // whose deploy failed and rolled back goes (RetainExceptOnCreate): it never served.
    this.version.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
    this.alias = new CfnStateMachineAlias(this, 'Alias', {
      name: STATE_MACHINE_ALIAS_NAME,
      description: 'New payment saga executions start here; deploys shift it by canary',
      deploymentPreference: {
        type: 'CANARY',
        percentage,
        interval: interval.toMinutes(),
        stateMachineVersionArn: this.version.attrArn,
        alarms: Lazy.list({ produce: () => this.alarms.map((alarm) => alarm.alarmName) }),
      },
    });
    this.aliasArn = this.alias.attrArn;
    this.node.addValidation({
      validate: () =>
        this.alarms.length === 0 ? ['the state machine alias has no alarm to roll back on (addAlarm)'] : [],
    });
  }

  /** An alarm that stops the shift of new executions and rolls the alias back. */
  addAlarm(alarm: IAlarm): void {
    this.alarms.push(alarm);
  }

  /** states:StartExecution through the alias (a grant on the state machine's own ARN does not cover it). */
  grantStartExecution(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['states:StartExecution'],
      resourceArns: [this.aliasArn],
    });
  }

  /** Sets `STATE_MACHINE_ARN` (read by `src/saga/step-functions-starter.ts`) to the alias, and grants starting through it. */
  bindStarter(fn: LambdaFunction): void {
    setEnvironment(fn, config.stateMachine, { arn: this.aliasArn });
    this.grantStartExecution(fn);
  }
}
