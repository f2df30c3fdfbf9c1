import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  type AlarmProps,
  ComparisonOperator,
  type IAlarm,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  type ILambdaDeploymentConfig,
  LambdaApplication,
  LambdaDeploymentConfig,
  LambdaDeploymentGroup,
  TrafficRouting,
} from 'aws-cdk-lib/aws-codedeploy';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { CheckoutFunction } from './checkout-function.js';
import { LIVE_ALIAS_NAME, liveAlias } from './live-alias.js';

/**
 * How a function's traffic reaches it, which decides how a deploy shifts it:
 * - `request`: steady, customer-facing calls (API routes, saga tasks). Canary: 10 % of the calls
 *   for 5 minutes, then all of them.
 * - `queue`: the compensation worker and the saga starter, invoked by their SQS event sources only
 *   when a compensation failed or a saga start was throttled, so their traffic is sparse and
 *   bursty. Linear: 10 % more every minute (10 minutes), so most batches run on the proven
 *   version while the new one collects evidence; a batch the new version fails goes back to the
 *   queue and is retried (idempotently) by whichever version receives it next, so a bad version
 *   costs a delay, never a compensation or a saga.
 * - `schedule`: the sweeper (every 2 minutes) and the outbox relay (every minute): one invocation
 *   per tick, so a 10 % canary would promote a version that never ran. Canary of 50 % for 10
 *   minutes: the new version runs about 2–3 sweeps and 5 relay batches before it takes over. Both
 *   jobs lease their rows and are idempotent, so a bad run is repaired by the next tick.
 */
export type RolloutKind = 'request' | 'queue' | 'schedule';

/** The error rate of a new version (percent of its invocations) that stops its rollout. */
export const NEW_VERSION_ERROR_RATE_PERCENT = 5;

export interface FunctionRollout {
  /** A stable name, a construct id: the alarm is `<stack>-<name>-NewVersionErrors`. */
  readonly name: string;
  readonly handler: CheckoutFunction;
  readonly kind: RolloutKind;
  /**
   * Alarms that also stop and roll back this function's rollout (API 5xx and p99, saga failures),
   * besides the new version's own errors.
   * @default - only the new version's errors
   */
  readonly alarms?: readonly IAlarm[];
}

export interface CanaryDeploymentsProps {
  readonly rollouts: readonly FunctionRollout[];
  /** The new-version alarms notify this topic, when they fire and when they clear. */
  readonly topic: ITopic;
}

/**
 * Safe delivery of the functions (docs/deploy.md, "How a deploy rolls out"): for each function, a
 * CodeDeploy deployment group on its `live` alias. A deploy that publishes a new version shifts
 * the alias's traffic by the function's {@link RolloutKind}; if the new version's error rate, or
 * any alarm given for it, goes into ALARM meanwhile, CodeDeploy stops the shift, points the alias
 * back at the previous version, and the CloudFormation update fails and rolls back.
 */
export class CanaryDeployments extends Construct {
  readonly application: LambdaApplication;
  /** The one service role of every deployment group. */
  readonly role: Role;
  /** Deployment group and new-version alarm of each function, by the rollout's name. */
  readonly deployments: ReadonlyMap<
    string,
    { readonly group: LambdaDeploymentGroup; readonly newVersionErrors: Alarm }
  >;

  constructor(scope: Construct, id: string, props: CanaryDeploymentsProps) {
    super(scope, id);
    const names = props.rollouts.map((rollout) => rollout.name);
    const repeated = names.filter((name, index) => names.indexOf(name) !== index);
    if (repeated.length > 0)
      throw new Error(`rollout names must be unique, repeated: ${repeated.join(', ')}`);

    this.application = new LambdaApplication(this, 'Application');
    // One role for every group, holding only what CodeDeploy does to a Lambda alias, instead of the
    // AWSCodeDeployRoleForLambdaLimited managed policy LambdaDeploymentGroup would attach to each
    // (which allows these calls on every function of the account). Lambda authorizes GetAlias and
    // UpdateAlias on the function's ARN (the managed policy grants `function:*`, not aliases only),
    // so each function is named twice: its unqualified ARN and its live alias's ARN. With the
    // alias alone, the first deploy passes (nothing to shift yet) and every later one fails its
    // shift and rolls back (docs/adr/0021-control-tower-rules-and-retained-resources.md).
    this.role = new Role(this, 'ServiceRole', {
      assumedBy: new ServicePrincipal('codedeploy.amazonaws.com'),
      description: 'CodeDeploy: shifts the live aliases of the checkout functions',
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:GetProvisionedConcurrencyConfig'],
        resources: props.rollouts.flatMap(({ handler }) => [
          handler.function.functionArn,
          liveAlias(handler).functionArn,
        ]),
      }),
    );
    this.role.addToPolicy(new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }));
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:DescribeAlarms, the read-only call CodeDeploy polls the rollback alarms with; the ' +
        'Lambda actions are limited to the functions that roll out and their live aliases.',
    });
    // The groups cannot add the managed policy to this one.
    const role = this.role.withoutPolicyUpdates();

    const configs: Record<RolloutKind, ILambdaDeploymentConfig> = {
      request: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
      queue: LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
      schedule: new LambdaDeploymentConfig(this, 'ScheduledJobsConfig', {
        trafficRouting: TrafficRouting.timeBasedCanary({ interval: Duration.minutes(10), percentage: 50 }),
      }),
    };

    const notify = new SnsAction(props.topic);
    const stackName = Stack.of(this).stackName;
    const deployments = new Map<string, { group: LambdaDeploymentGroup; newVersionErrors: Alarm }>();
    for (const rollout of props.rollouts) {
      const alias = liveAlias(rollout.handler);
      const scope = new Construct(this, rollout.name);
      const newVersionErrors = new Alarm(scope, 'NewVersionErrors', {
        alarmName: `${stackName}-${rollout.name}-NewVersionErrors`,
        ...newVersionErrorCondition(rollout, alias.version.version),
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      newVersionErrors.addAlarmAction(notify);
      newVersionErrors.addOkAction(notify);

      const group = new LambdaDeploymentGroup(scope, 'DeploymentGroup', {
        application: this.application,
        alias,
        deploymentConfig: configs[rollout.kind],
        role,
        alarms: [newVersionErrors, ...(rollout.alarms ?? [])],
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      deployments.set(rollout.name, { group, newVersionErrors });
    }
    this.deployments = deployments;
  }
}

/**
 * The new version's errors, from the metrics Lambda publishes per version behind a weighted alias
 * (`ExecutedVersion`), so the proven version's errors during the shift do not count. Steady
 * traffic alarms on an error rate in 2 of 3 minutes (one transient failure does not roll back);
 * a scheduled job, which runs once per tick, on any failed run.
 */
function newVersionErrorCondition(
  rollout: FunctionRollout,
  version: string,
): Omit<AlarmProps, 'alarmName' | 'treatMissingData'> {
  const functionName = rollout.handler.function.functionName;
  const metric = (metricName: string) =>
    new Metric({
      namespace: 'AWS/Lambda',
      metricName,
      dimensionsMap: {
        FunctionName: functionName,
        Resource: `${functionName}:${LIVE_ALIAS_NAME}`,
        ExecutedVersion: version,
      },
      statistic: 'Sum',
      period: Duration.minutes(1),
    });
  if (rollout.kind === 'schedule') {
    return {
      alarmDescription: `${rollout.name}: a run of the version being rolled out failed; the rollout stops and rolls back`,
      metric: metric('Errors'),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    };
  }
  return {
    alarmDescription: `${rollout.name}: more than ${NEW_VERSION_ERROR_RATE_PERCENT} % of the invocations of the version being rolled out failed in 2 of 3 minutes; the rollout stops and rolls back`,
    metric: new MathExpression({
      label: `${rollout.name} new version error rate (%)`,
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: { invocations: metric('Invocations'), errors: metric('Errors') },
      period: Duration.minutes(1),
    }),
    threshold: NEW_VERSION_ERROR_RATE_PERCENT,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  };
}
