import { Aws, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { sagaTaskTimeoutSeconds, type TimeAndCapacityBudget } from '../../src/config/budget.js';
import {
  COMPENSATION_QUEUE_URL_SUBSTITUTION,
  PAYMENT_SAGA_DEFINITION_FILE,
  paymentSagaTasks,
} from '../saga-tasks.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { CheckoutDatabase } from './database.js';
import { liveAlias } from './live-alias.js';
import type { PaymentProviderEndpoint } from './payment-provider.js';
import { StateMachineLiveAlias } from './state-machine-alias.js';

/**
 * `states:DescribeExecution` on the executions of the saga named `stateMachineName` (a literal),
 * with the cdk-nag acknowledgement its `execution:<name>:*` resource needs. Executions are named by
 * order id, which callers learn from the database, so the ARN cannot be narrower.
 */
export function grantDescribeSagaExecutions(fn: CheckoutFunction, stateMachineName: string): void {
  const executions = `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`;
  fn.function.addToRolePolicy(
    new PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
  );
  Validations.of(fn).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*]`,
    reason:
      'DescribeExecution on the executions of the payment saga only: they are named by order id, which the ' +
      'caller learns from the database, so the execution part of the ARN cannot be narrower.',
  });
}

export interface PaymentSagaProps {
  /**
   * The state machine's name. Given, not generated, so that execution ARNs (named by order id) can
   * be granted as `execution:<name>:*` and two stages can share an account.
   */
  readonly stateMachineName: string;
  readonly database: CheckoutDatabase;
  readonly payments: PaymentProviderEndpoint;
  readonly compensationQueue: CompensationQueue;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /** The budget: each task's line (pool, reservation, work) by state name (docs/adr/0020). */
  readonly budget: TimeAndCapacityBudget;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The payment saga (docs/adr/0001): the Standard state machine defined by the ASL file, one function
 * per Lambda Task state, wired through `DefinitionSubstitutions` to the function's `live` alias;
 * logging ALL and X-Ray tracing; a version per change and a `live` alias executions start through.
 * The function list comes from the definition itself, so a new Task state gets its function (or
 * the synth fails naming the missing handler) and a removed one loses it.
 */
export class PaymentSaga extends Construct {
  readonly stateMachine: StateMachine;
  /** Its published versions and the `live` alias executions start through. */
  readonly live: StateMachineLiveAlias;
  /** The literal name of {@link stateMachine}. */
  readonly stateMachineName: string;
  /** The function of each Lambda Task state, by state name. */
  readonly functions: ReadonlyMap<string, CheckoutFunction>;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PaymentSagaProps) {
    super(scope, id);
    const tasks = paymentSagaTasks();

    const functions = new Map<string, CheckoutFunction>();
    for (const task of tasks) {
      const line = props.budget.sagaTasks[task.stateName];
      if (!line) {
        throw new Error(
          `saga task ${task.stateName} has no line in the budget (src/config/budget.ts, sagaTasks)`,
        );
      }
      const step = new CheckoutFunction(this, task.stateName, {
        entry: task.entry,
        description: `Payment saga step ${task.stateName}`,
        // The invocation ends before its state's TimeoutSeconds does (docs/adr/0020): a step the
        // state machine gave up on never goes on to capture or confirm behind its back.
        budget: { ...line, timeoutSeconds: sagaTaskTimeoutSeconds(task.timeoutSeconds) },
        logRetention: props.logRetention,
        powertools: props.powertools,
        vpc: props.vpc,
        securityGroups: [props.database.clientSecurityGroup],
      });
      // Every step runs over the same PaymentSaga (database + payment gateway), built at cold start.
      props.database.grantConnect(step);
      props.payments.bind(step);
      functions.set(task.stateName, step);
    }
    this.functions = functions;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    const substitutions: Record<string, string> = {
      [COMPENSATION_QUEUE_URL_SUBSTITUTION]: props.compensationQueue.queue.queueUrl,
    };
    // Each task calls its function's `live` alias, so a deploy shifts the saga's calls by canary too.
    const aliases = tasks.map((task) => liveAlias(functions.get(task.stateName) as CheckoutFunction));
    for (const [index, task] of tasks.entries()) {
      substitutions[task.substitution] = (aliases[index] as (typeof aliases)[number]).functionArn;
    }

    this.stateMachineName = props.stateMachineName;
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(PAYMENT_SAGA_DEFINITION_FILE),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    // The tasks name the aliases: grant exactly those, not every version (`<arn>:*`) as grantInvoke does.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: aliases.map((alias) => alias.functionArn),
      }),
    );
    props.compensationQueue.grantSend(this.stateMachine);
    this.live = new StateMachineLiveAlias(this, 'Live', { stateMachine: this.stateMachine });

    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for logging and tracing: the CloudWatch Logs delivery actions (logs:CreateLogDelivery, ' +
        'PutResourcePolicy, ...) and xray:PutTraceSegments/GetSampling* have no resource-level permissions.',
    });
  }
}
