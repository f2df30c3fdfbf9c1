import path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type ISecurityGroup, type IVpc, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import type { PowertoolsLogLevel } from '../config.js';
import { acknowledgeFalsePositive } from '../policy-validation.js';
import { FUNCTION_BUNDLING } from './function-bundling.js';
import { environmentOf } from './function-environment.js';

/** The repository root: entries, the lock file and `migrations/` are resolved from here. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/** Every function of the app runs on this runtime and architecture. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;
export const FUNCTION_ARCHITECTURE = Architecture.ARM_64;
/** Memory of every function that sets none; the bench prices Lambda time with it. */
export const DEFAULT_FUNCTION_MEMORY_MB = 512;

/** Powertools settings shared by the functions of one stage. */
export interface PowertoolsSettings {
  /** `POWERTOOLS_SERVICE_NAME`. */
  readonly serviceName: string;
  /** `POWERTOOLS_METRICS_NAMESPACE`. */
  readonly metricsNamespace: string;
  /** `POWERTOOLS_LOG_LEVEL`. */
  readonly logLevel: PowertoolsLogLevel;
}

export interface CheckoutFunctionProps {
  /** Handler file relative to the repository root, exporting `handler`, e.g. `lambdas/saga/confirm-order.ts`. */
  readonly entry: string;
  /** The module's export that is the handler. @default 'handler' */
  readonly handler?: string;
  readonly description: string;
  /**
   * Its line of the time-and-capacity budget (`src/config/budget.ts`, docs/adr/0020): the timeout,
   * the reserved concurrency (production) and, for the constructs that bind it to the database
   * and the provider, its pool size and what it keeps for its records after a provider call.
   */
  readonly budget: FunctionBudget;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /**
   * Memory; CPU scales with it, and TLS handshakes plus IAM token signing on cold start need some.
   * @default DEFAULT_FUNCTION_MEMORY_MB
   */
  readonly memorySize?: number;
  /** What happens to the log group when the function leaves the stack. @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * VPC to run in, in its private subnets with egress (NAT for the payment provider, VPC endpoints for
   * AWS APIs). Functions that reach nothing inside the VPC stay out of it.
   * @default - not in a VPC
   */
  readonly vpc?: IVpc;
  /** @default - a security group of its own when `vpc` is set */
  readonly securityGroups?: ISecurityGroup[];
  /** Extra bundling steps, e.g. copying SQL files next to the bundle. @default - none */
  readonly commandHooks?: ICommandHooks;
}

/**
 * A Lambda function the way this app builds all of them: Node.js 24 on ARM64, a minified ESM
 * bundle built by the esbuild in node_modules (no Docker), source maps, Powertools environment,
 * X-Ray tracing, a log group with a retention, and an execution role that holds only what this
 * function is granted (no AWS managed policies).
 */
export class CheckoutFunction extends Construct {
  readonly function: NodejsFunction;
  /** The handler module, relative to the repository root, and its export: what reads the configuration. */
  readonly entry: string;
  readonly handlerExport: string;
  readonly role: IRole;
  readonly logGroup: LogGroup;
  /** Its line of the budget. */
  readonly budget: FunctionBudget;

  constructor(scope: Construct, id: string, props: CheckoutFunctionProps) {
    super(scope, id);
    if (!props.entry.endsWith('.ts') || path.isAbsolute(props.entry)) {
      throw new Error(`entry must be a .ts file relative to the repository root, got "${props.entry}"`);
    }
    if (props.securityGroups && !props.vpc) {
      throw new Error(`securityGroups need a vpc (function ${props.entry})`);
    }
    this.entry = props.entry;
    this.budget = props.budget;
    this.handlerExport = props.handler ?? 'handler';

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    const role = new Role(this, 'ServiceRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.entry}`,
    });
    this.role = role;
    // Only its own log group, instead of AWSLambdaBasicExecutionRole's logs:* on every group.
    this.logGroup.grantWrite(role);
    if (props.vpc) {
      // What AWSLambdaVPCAccessExecutionRole holds; Lambda manages the ENIs with these calls.
      role.addToPolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: FUNCTION_ARCHITECTURE,
      memorySize: props.memorySize ?? DEFAULT_FUNCTION_MEMORY_MB,
      timeout: Duration.seconds(props.budget.timeoutSeconds),
      role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      ...(props.budget.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.budget.reservedConcurrency }
        : {}),
      ...(props.vpc
        ? {
            vpc: props.vpc,
            vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
            ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
          }
        : {}),
      // The rest of the environment is set by the constructs that bind the function to a resource.
      environment: environmentOf(config.powertools, {
        serviceName: props.powertools.serviceName,
        metricsNamespace: props.powertools.metricsNamespace,
        logLevel: props.powertools.logLevel,
        // No --enable-source-maps: it reads the whole source map at every cold start. The
        // functions map their stack traces when one is formatted (src/runtime/stack-traces.ts).
      }),
      // As FUNCTION_BUNDLING says, which every other build of the functions uses too.
      bundling: {
        format: { esm: OutputFormat.ESM, cjs: OutputFormat.CJS }[FUNCTION_BUNDLING.format],
        target: FUNCTION_BUNDLING.target,
        minify: FUNCTION_BUNDLING.minify,
        sourceMap: FUNCTION_BUNDLING.sourcemap,
        sourcesContent: FUNCTION_BUNDLING.sourcesContent,
        mainFields: [...FUNCTION_BUNDLING.mainFields],
        banner: FUNCTION_BUNDLING.banner,
        // CDK runs esbuild in the project root, which the aliases are relative to.
        esbuildArgs: {
          '--alias': Object.entries(FUNCTION_BUNDLING.alias).map(([module, file]) => `${module}=${file}`),
        },
        logLevel: LogLevel.WARNING,
        // The SDK clients are pinned in package-lock.json and @aws-sdk/rds-signer is not in the
        // runtime at all: bundle them instead of trusting the runtime's copy.
        bundleAwsSDK: true,
        externalModules: [],
        forceDockerBundling: false,
        ...(props.commandHooks ? { commandHooks: props.commandHooks } : {}),
      },
    });

    // Which source the function is built from, for whatever reads the template (as CDK's asset metadata).
    (this.function.node.defaultChild as CfnFunction).addMetadata('checkout:entry', props.entry);

    if (props.vpc && Stack.of(props.vpc) !== Stack.of(this)) {
      acknowledgeFalsePositive(
        this.function,
        'CT.LAMBDA.PR.3',
        'the function is in the VPC, but its subnet and security group ids come from the stack that owns ' +
          'the VPC (Fn::GetStackOutput), and the rule accepts only literal ids or references within the template.',
      );
    }
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Deliberately pinned to nodejs24.x, the runtime the project builds (esbuild target node24) and runs its ' +
        'tests on (docs/adr/0017); moving to a newer runtime is a reviewed change of FUNCTION_RUNTIME, not a drift.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only actions without resource-level permissions: xray:PutTraceSegments/PutTelemetryRecords for ' +
        'active tracing and, for functions in the VPC, the ENI management calls Lambda makes with the ' +
        'execution role (the statements of AWSLambdaVPCAccessExecutionRole).',
    });
  }
}
