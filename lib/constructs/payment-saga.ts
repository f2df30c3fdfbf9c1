import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CheckoutFunction, type PowertoolsSettings, PROJECT_ROOT } from './checkout-function.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { CheckoutDatabase } from './database.js';
import type { PaymentProviderEndpoint } from './payment-provider.js';

/** The saga definition, relative to the repository root. */
export const PAYMENT_SAGA_DEFINITION = 'statemachines/payment-saga.asl.json';

/** The substitution the QueueCompensation state's `sqs:sendMessage` integration uses. */
export const COMPENSATION_QUEUE_URL_SUBSTITUTION = 'CompensationQueueUrl';

/**
 * Each Lambda function outlives its Task's `TimeoutSeconds` by this much, so the state's own timeout
 * (`States.Timeout`, which the Retry and Catch rules name) fires first, not a Lambda timeout.
 */
export const TASK_TIMEOUT_HEADROOM = Duration.seconds(5);

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

/** A Lambda Task state of the definition: `"Resource": "${<State>FunctionArn}"`. */
export interface SagaTask {
  readonly stateName: string;
  /** The substitution variable, `<State>FunctionArn`. */
  readonly substitution: string;
  /** Handler file: `lambdas/saga/<kebab-case state name>.ts`. */
  readonly entry: string;
  readonly timeoutSeconds: number;
}

/**
 * Lists the Lambda Task states of an ASL definition, refusing a definition the app could not wire:
 * a Task without `TimeoutSeconds`, or a `${...}` placeholder that is neither a Task's function nor
 * the compensation queue.
 */
export function sagaTasks(definition: string): SagaTask[] {
  const parsed = JSON.parse(definition) as {
    States?: Record<string, { Type?: string; Resource?: unknown; TimeoutSeconds?: unknown }>;
  };
  const tasks: SagaTask[] = [];
  for (const [stateName, state] of Object.entries(parsed.States ?? {})) {
    if (state.Type !== 'Task' || typeof state.Resource !== 'string') continue;
    const match = /^\$\{(\w+FunctionArn)\}$/.exec(state.Resource);
    if (!match) continue;
    const substitution = match[1] as string;
    if (substitution !== `${stateName}FunctionArn`) {
      throw new Error(`state ${stateName} must use \${${stateName}FunctionArn}, not \${${substitution}}`);
    }
    if (typeof state.TimeoutSeconds !== 'number') {
      throw new Error(`Task state ${stateName} has no TimeoutSeconds; every saga step needs one`);
    }
    tasks.push({
      stateName,
      substitution,
      entry: `lambdas/saga/${kebabCase(stateName)}.ts`,
      timeoutSeconds: state.TimeoutSeconds,
    });
  }
  const known = new Set([...tasks.map((task) => task.substitution), COMPENSATION_QUEUE_URL_SUBSTITUTION]);
  for (const [, name] of definition.matchAll(/\$\{(\w+)\}/g)) {
    if (!known.has(name as string))
      throw new Error(`the saga definition uses an unknown substitution \${${name}}`);
  }
  return tasks;
}

/** `AuthorizePayment` → `authorize-payment`. */
export function kebabCase(pascalCase: string): string {
  return pascalCase.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
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
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The payment saga (DESIGN §5): the Standard state machine defined by the ASL file, one function
 * per Lambda Task state, wired through `DefinitionSubstitutions`; logging ALL and X-Ray tracing.
 * The function list comes from the definition itself, so a new Task state gets its function (or
 * the synth fails naming the missing handler) and a removed one loses it.
 */
export class PaymentSaga extends Construct {
  readonly stateMachine: StateMachine;
  /** The literal name of {@link stateMachine}. */
  readonly stateMachineName: string;
  /** The function of each Lambda Task state, by state name. */
  readonly functions: ReadonlyMap<string, CheckoutFunction>;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PaymentSagaProps) {
    super(scope, id);
    const definitionFile = path.join(PROJECT_ROOT, PAYMENT_SAGA_DEFINITION);
    const tasks = sagaTasks(readFileSync(definitionFile, 'utf8'));

    const functions = new Map<string, CheckoutFunction>();
    for (const task of tasks) {
      const step = new CheckoutFunction(this, task.stateName, {
        entry: task.entry,
        description: `Payment saga step ${task.stateName}`,
        timeout: Duration.seconds(task.timeoutSeconds + TASK_TIMEOUT_HEADROOM.toSeconds()),
        logRetention: props.logRetention,
        powertools: props.powertools,
        vpc: props.vpc,
        securityGroups: [props.database.clientSecurityGroup],
      });
      // Every step runs over the same PaymentSaga (database + payment gateway), built at cold start.
      props.database.grantConnect(step.function);
      props.payments.bind(step.function);
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
    for (const task of tasks) {
      substitutions[task.substitution] = (
        functions.get(task.stateName) as CheckoutFunction
      ).function.functionArn;
    }

    this.stateMachineName = props.stateMachineName;
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(definitionFile),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    // The tasks name the unqualified function ARNs: grant exactly those, not `<arn>:*` as grantInvoke does.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [...functions.values()].map((step) => step.function.functionArn),
      }),
    );
    props.compensationQueue.grantSend(this.stateMachine);

    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for logging and tracing: the CloudWatch Logs delivery actions (logs:CreateLogDelivery, ' +
        'PutResourcePolicy, ...) and xray:PutTraceSegments/GetSampling* have no resource-level permissions.',
    });
  }
}
