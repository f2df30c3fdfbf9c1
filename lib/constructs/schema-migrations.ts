import path from 'node:path';
import { CustomResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type IVpc, SubnetType } from 'aws-cdk-lib/aws-ec2';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { migrationsFingerprint } from '../../lambdas/ops/migrations-fingerprint.js';
import type { FunctionBudget } from '../../src/config/budget.js';
import { CheckoutFunction, type PowertoolsSettings, PROJECT_ROOT } from './checkout-function.js';
import type { CheckoutDatabase } from './database.js';

/** The folder the runner applies, relative to the repository root; bundled as `migrations/` next to the handler. */
export const MIGRATIONS_FOLDER = 'migrations';

export interface SchemaMigrationsProps {
  readonly database: CheckoutDatabase;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /**
   * Its budget line: up to 6 min of connection retries on a first deploy (the proxy registering its
   * target), then up to 5 min waiting for another runner's lock; the Provider framework waits at
   * most 15 min. One connection: the runner works in one transaction under an advisory lock.
   */
  readonly budget: FunctionBudget;
}

/**
 * Runs the project's migration runner against the database on every deploy whose migrations
 * changed: a custom resource whose only property is the fingerprint of the migrations folder,
 * served by `lambdas/ops/migrate.ts` through the proxy. A failed migration fails the deploy.
 */
export class SchemaMigrations extends Construct {
  readonly handler: CheckoutFunction;
  readonly resource: CustomResource;
  /** The fingerprint the deploy asks for (see `lambdas/ops/migrations-fingerprint.ts`). */
  readonly fingerprint: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    this.fingerprint = migrationsFingerprint(path.join(PROJECT_ROOT, MIGRATIONS_FOLDER));

    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'lambdas/ops/migrate.ts',
      description: 'Applies the SQL migrations on deploy (custom resource)',
      budget: props.budget,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (inputDir, outputDir) => [
          `cp -R "${inputDir}/${MIGRATIONS_FOLDER}" "${outputDir}/${MIGRATIONS_FOLDER}"`,
        ],
      },
    });
    props.database.grantMigrations(this.handler);

    const provider = new Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      // In the VPC like every function of the app (Control Tower CT.LAMBDA.PR.3); it calls the
      // Lambda API and answers CloudFormation's S3 URL through the NAT gateways.
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      logGroup: new LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SchemaMigrations',
      properties: { MigrationsFingerprint: this.fingerprint },
    });
    // Proxy included: its target group must be registered before the runner can connect through it.
    this.resource.node.addDependency(props.database.instance, props.database.proxy);

    const handlerLogicalId = Stack.of(this).getLogicalId(
      this.handler.function.node.defaultChild as CfnFunction,
    );
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${handlerLogicalId}.Arn>:*]`,
      reason:
        'Granted by the CDK Provider framework (grantInvoke) so it may invoke any version of the migration ' +
        'function; the function is unversioned, so this is exactly that one function.',
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'CDK Provider framework function (built by aws-cdk-lib): it only relays CloudFormation events to the ' +
        'migration function and writes its own logs.',
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason:
        'CDK Provider framework function (built by aws-cdk-lib) in the VPC: the AWS managed policy holds only the ' +
        'network-interface calls Lambda makes for a function in a VPC.',
    });
  }
}
