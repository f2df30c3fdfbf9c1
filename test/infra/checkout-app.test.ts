import path from 'node:path';
import { type Stack, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { CfnAlias, CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, test } from 'vitest';
import { migrationsFingerprint } from '../../lambdas/ops/migrations-fingerprint.js';
import type { CheckoutFunction } from '../../lib/constructs/checkout-function.js';
import { IDEMPOTENCY_ACTIONS } from '../../lib/constructs/idempotency-table.js';
import { liveAlias } from '../../lib/constructs/live-alias.js';
import { ALARM_THRESHOLDS } from '../../lib/constructs/monitoring.js';
import { paymentSagaTasks } from '../../lib/saga-tasks.js';
import { API_ROUTES, takesJsonBody } from '../../src/api/routes.js';
import { INVOCATION_OVERHEAD_SECONDS } from '../../src/config/budget.js';
import {
  SYNTH_TEST_TIMEOUT_MS,
  type SynthesizedCheckout,
  synthesizeCheckout,
} from './support/checkout-app.js';
import {
  actionsOf,
  cdkPath,
  followCrossStack,
  type PolicyStatement,
  referencedLogicalId,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type TemplateResource,
  templateJson,
} from './support/template-queries.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ONE_MONTH = 30;

let checkout: SynthesizedCheckout;
let stateful: Template;
let stateless: Template;

beforeAll(() => {
  // The templates do not depend on the bundles; skipping esbuild keeps this file fast.
  checkout = synthesizeCheckout({ stage: 'dev', bundle: false });
  stateful = checkout.statefulTemplate;
  stateless = checkout.statelessTemplate;
});

function logicalIdOf(stack: Stack, fn: CheckoutFunction): string {
  return stack.getLogicalId(fn.function.node.defaultChild as CfnFunction);
}

function aliasLogicalIdOf(stack: Stack, fn: CheckoutFunction): string {
  return stack.getLogicalId(liveAlias(fn).node.defaultChild as CfnAlias);
}

/** Every function the app builds from its own handlers, with the stack it lives in and its expected timeout. */
function appFunctions(): {
  name: string;
  fn: CheckoutFunction;
  template: Template;
  stack: Stack;
  timeout: number;
}[] {
  const { stateful: statefulStack, stateless: statelessStack } = checkout;
  const inStateless = (name: string, fn: CheckoutFunction, timeout: number) => ({
    name,
    fn,
    template: stateless,
    stack: statelessStack as Stack,
    timeout,
  });
  const tasks = new Map(paymentSagaTasks().map((task) => [task.stateName, task]));
  return [
    ...[...statelessStack.apiHandlers.functions].map(([operationId, fn]) =>
      inStateless(operationId, fn, checkout.config.budget.api[operationId]?.timeoutSeconds ?? Number.NaN),
    ),
    ...[...statelessStack.saga.functions].map(([state, fn]) =>
      inStateless(state, fn, (tasks.get(state)?.timeoutSeconds ?? Number.NaN) - INVOCATION_OVERHEAD_SECONDS),
    ),
    inStateless('CompensationWorker', statelessStack.compensationWorker.handler, 120),
    inStateless('SagaStarter', statelessStack.sagaStarter.handler, 20),
    inStateless('OrderSweeper', statelessStack.sweeper.job.handler, 60),
    inStateless('OutboxRelay', statelessStack.outboxRelay.job.handler, 50),
    inStateless('SimulatedPaymentProvider', statelessStack.paymentProvider?.handler as CheckoutFunction, 17),
    {
      name: 'SchemaMigrations',
      fn: statefulStack.migrations.handler,
      template: stateful,
      stack: statefulStack,
      timeout: 840,
    },
  ];
}

function resource(template: Template, logicalId: string): TemplateResource {
  const found = templateJson(template).Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return { logicalId, ...found, Properties: found.Properties ?? {} };
}

describe('cdk-nag AwsSolutions checks', () => {
  test('the app synthesizes with every AwsSolutions finding resolved or acknowledged', () => {
    // Arrange/act happened in beforeAll: app.synth() runs the checks and throws on a finding.
    expect(checkout.assembly.stacks.map((stack) => stack.stackName).sort()).toEqual([
      'checkout-dev-stateful',
      'checkout-dev-stateless',
    ]);
  });

  test(
    'a new non-compliant resource fails the synth, naming the rule',
    { timeout: SYNTH_TEST_TIMEOUT_MS },
    () => {
      const synth = () =>
        synthesizeCheckout({
          stage: 'dev',
          bundle: false,
          beforeSynth: ({ stateless: stack }) => new Queue(stack, 'PlainQueue'),
        });

      expect(synth).toThrow(/AwsSolutions-SQS4/);
    },
  );

  test('every acknowledged finding has a written reason and sits on a construct, never on the app or a stack', () => {
    const acknowledgements: { path: string; depth: number; id: string; reason: string }[] = [];
    for (const construct of checkout.app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          // cdk-nag's and the Control Tower controls' (lib/policy-validation.ts).
          if (id.includes('AwsSolutions') || id.startsWith('Control-Tower::')) {
            acknowledgements.push({
              path: construct.node.path,
              depth: construct.node.scopes.length,
              id,
              reason,
            });
          }
        }
      }
    }

    expect(acknowledgements.some(({ id }) => id.startsWith('Control-Tower::'))).toBe(true);
    for (const acknowledgement of acknowledgements) {
      // depth 1 is the app, 2 a stack: findings are acknowledged on the construct that has them.
      expect(acknowledgement.depth, `${acknowledgement.id} at ${acknowledgement.path}`).toBeGreaterThan(2);
      expect(
        acknowledgement.reason.length,
        `${acknowledgement.id} at ${acknowledgement.path}`,
      ).toBeGreaterThan(40);
    }
  });
});

describe('database', () => {
  test('the proxy requires TLS and IAM authentication, in the isolated subnets', () => {
    stateful.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      // The owner (migrations) and the application role (every other function).
      Auth: [
        Match.objectLike({ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED' }),
        Match.objectLike({ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED' }),
      ],
      VpcSubnetIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('^NetworkVpcDatabaseSubnet') }]),
    });
  });

  test('PostgreSQL 16, encrypted, private, TLS forced, IAM auth enabled, credentials rotated', () => {
    stateful.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '16',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      EnableIAMDatabaseAuthentication: true,
      DBName: 'checkout',
    });
    stateful.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres16',
      Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
    });
    stateful.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      HostedRotationLambda: Match.objectLike({ RotationType: 'PostgreSQLSingleUser' }),
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  test('the database and its proxy sit in subnets with no route out of the VPC', () => {
    const routes = resourcesOfType(stateful, 'AWS::EC2::Route');
    const subnetGroup = resourcesOfType(stateful, 'AWS::RDS::DBSubnetGroup')[0] as TemplateResource;
    const subnets = (subnetGroup.Properties.SubnetIds as unknown[]).map(referencedLogicalId);
    const associations = resourcesOfType(stateful, 'AWS::EC2::SubnetRouteTableAssociation');

    expect(subnets.length).toBe(2);
    for (const subnet of subnets) {
      const routeTable = associations.find((a) => referencedLogicalId(a.Properties.SubnetId) === subnet);
      const routeTableId = referencedLogicalId(routeTable?.Properties.RouteTableId);
      expect(routeTableId).toBeDefined();
      expect(
        routes.filter((route) => referencedLogicalId(route.Properties.RouteTableId) === routeTableId),
      ).toEqual([]);
    }
  });

  test('both PostgreSQL logs go to CloudWatch Logs, each into a group made first with the stage retention', () => {
    const [instance] = resourcesOfType(stateful, 'AWS::RDS::DBInstance');
    const groups = new Map(
      resourcesOfType(stateful, 'AWS::Logs::LogGroup').map((group) => [group.Properties.LogGroupName, group]),
    );

    expect(instance?.Properties.EnableCloudwatchLogsExports).toEqual(['postgresql', 'upgrade']);
    for (const logType of ['postgresql', 'upgrade']) {
      const group = groups.get(`/aws/rds/instance/checkout-dev/${logType}`);
      expect(group?.Properties.RetentionInDays, logType).toBe(ONE_MONTH);
      expect(instance?.DependsOn, logType).toContain(group?.logicalId);
    }
  });

  test('non-production stage: single AZ, no deletion protection, deleted with the stack', () => {
    const [instance] = resourcesOfType(stateful, 'AWS::RDS::DBInstance');
    expect(instance?.Properties.MultiAZ).toBe(false);
    expect(instance?.Properties.DeletionProtection).toBe(false);
    expect(instance?.DeletionPolicy).toBe('Delete');
  });
});

describe('schema migrations on deploy', () => {
  test('the custom resource depends on the database instance and the proxy with its target group', () => {
    const [migrations] = resourcesOfType(stateful, 'Custom::SchemaMigrations');
    const logicalIds = (type: string) => resourcesOfType(stateful, type).map((r) => r.logicalId);

    expect(migrations?.DependsOn).toEqual(
      expect.arrayContaining([
        ...logicalIds('AWS::RDS::DBInstance'),
        ...logicalIds('AWS::RDS::DBProxy'),
        ...logicalIds('AWS::RDS::DBProxyTargetGroup'),
      ]),
    );
  });

  test('its only property is the fingerprint of the migrations folder, so it runs when a migration changes', () => {
    stateful.hasResourceProperties('Custom::SchemaMigrations', {
      ServiceToken: Match.anyValue(),
      MigrationsFingerprint: migrationsFingerprint(path.join(ROOT, 'migrations')),
    });
  });
});

describe('functions', () => {
  test('every function of the app: nodejs24.x, arm64, its timeout, a log group with the stage retention', () => {
    for (const { name, fn, template, stack, timeout } of appFunctions()) {
      const lambda = resource(template, logicalIdOf(stack, fn));
      const logGroup = resource(
        template,
        referencedLogicalId((lambda.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup) ?? '',
      );

      expect(lambda.Properties.Runtime, name).toBe('nodejs24.x');
      expect(lambda.Properties.Architectures, name).toEqual(['arm64']);
      expect(lambda.Properties.Timeout, name).toBe(timeout);
      expect(lambda.Properties.TracingConfig, name).toEqual({ Mode: 'Active' });
      expect(logGroup.Properties.RetentionInDays, name).toBe(ONE_MONTH);
    }
  });

  test('the functions CDK adds itself (custom resource providers) also log with a retention', () => {
    const ownLogicalIds = new Set(appFunctions().map(({ fn, stack }) => logicalIdOf(stack, fn)));
    const others = [stateful, stateless].flatMap((template) =>
      resourcesOfType(template, 'AWS::Lambda::Function')
        .filter((lambda) => !ownLogicalIds.has(lambda.logicalId))
        .map((lambda) => ({ lambda, template })),
    );

    expect(others.map(({ lambda }) => cdkPath(lambda)).sort()).toEqual([
      'Stateful/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler',
      'Stateful/SchemaMigrations/Provider/framework-onEvent/Resource',
    ]);
    for (const { lambda, template } of others) {
      const logGroupId = referencedLogicalId(
        (lambda.Properties.LoggingConfig as { LogGroup?: unknown }).LogGroup,
      );
      expect(resource(template, logGroupId ?? '').Properties.RetentionInDays, cdkPath(lambda)).toBe(
        ONE_MONTH,
      );
    }
  });

  test('Powertools settings on every function', () => {
    for (const { name, fn, template, stack } of appFunctions()) {
      const variables = (
        resource(template, logicalIdOf(stack, fn)).Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(variables, name).toMatchObject({
        POWERTOOLS_SERVICE_NAME: expect.any(String),
        POWERTOOLS_METRICS_NAMESPACE: 'Checkout',
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
      });
      // Node's flag would parse the whole source map at every cold start (src/runtime/stack-traces.ts).
      expect(variables, name).not.toHaveProperty('NODE_OPTIONS');
    }
  });

  test('every function runs in the VPC but the simulated provider, which stands for a service on the internet', () => {
    const outside = [stateful, stateless].flatMap((template) =>
      resourcesOfType(template, 'AWS::Lambda::Function')
        .filter((lambda) => lambda.Properties.VpcConfig === undefined)
        .map(cdkPath),
    );

    expect(outside.sort()).toEqual([
      // CDK's singleton that strips the default security group calls only the EC2 API.
      'Stateful/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler',
      'Stateless/SimulatedPaymentProvider/Handler/Function/Resource',
    ]);
  });

  test('functions that use the database run in the private subnets, in the group the proxy admits', () => {
    const clientGroup = checkout.stateful.getLogicalId(
      checkout.stateful.database.clientSecurityGroup.node.defaultChild as never,
    );
    for (const { name, fn, template, stack } of appFunctions()) {
      const properties = resource(template, logicalIdOf(stack, fn)).Properties;
      const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
      if (!('DB_PROXY_ENDPOINT' in variables)) continue;
      const vpcConfig = properties.VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
      const groups = vpcConfig.SecurityGroupIds.map((id) =>
        referencedLogicalId(followCrossStack(id, stateful)),
      );

      expect(groups, name).toEqual([clientGroup]);
      expect(vpcConfig.SubnetIds.length, name).toBe(2);
      // Only the migration runner connects as the owner; every other function as the application role.
      const user = name === 'SchemaMigrations' ? 'checkout' : 'checkout_app';
      expect(variables, name).toMatchObject({ DB_PORT: '5432', DB_NAME: 'checkout', DB_USER: user });
    }
  });
});

describe('network', () => {
  test('the public subnets give nothing a public IP: only the NAT gateways live there, with their Elastic IPs', () => {
    const subnets = resourcesOfType(stateful, 'AWS::EC2::Subnet');
    const publicSubnets = checkout.stateful.network.vpc.publicSubnets.map((subnet) =>
      checkout.stateful.getLogicalId(subnet.node.defaultChild as never),
    );

    expect(subnets.length).toBe(6);
    for (const subnet of subnets)
      expect(subnet.Properties.MapPublicIpOnLaunch ?? false, subnet.logicalId).toBe(false);
    for (const nat of resourcesOfType(stateful, 'AWS::EC2::NatGateway')) {
      expect(publicSubnets).toContain(referencedLogicalId(nat.Properties.SubnetId));
      expect(nat.Properties.AllocationId).toBeDefined();
    }
  });

  test('the zones are the stage setting, named, and the synth looked nothing up', () => {
    const zones = resourcesOfType(stateful, 'AWS::EC2::Subnet').map(
      (subnet) => subnet.Properties.AvailabilityZone,
    );

    expect(new Set(zones)).toEqual(new Set(['us-east-1a', 'us-east-1b']));
    expect(checkout.assembly.manifest.missing).toBeUndefined();
  });
});

describe('what a dev stack leaves behind when it goes', () => {
  test('nothing that holds data: everything is deleted but function and state machine versions and the account-level API Gateway role', () => {
    const kept = [stateful, stateless].flatMap((template) =>
      Object.values(templateJson(template).Resources)
        .filter((r) => r.DeletionPolicy !== undefined && r.DeletionPolicy !== 'Delete')
        .map((r) => `${r.Type} ${r.DeletionPolicy}`),
    );

    expect(new Set(kept)).toEqual(
      new Set([
        // Replaced versions stay for a rollback by hand; they go with their function or state machine.
        'AWS::Lambda::Version RetainExceptOnCreate',
        'AWS::StepFunctions::StateMachineVersion RetainExceptOnCreate',
        // Every API of the account and region logs through this role.
        'AWS::ApiGateway::Account RetainExceptOnCreate',
        'AWS::IAM::Role RetainExceptOnCreate',
      ]),
    );
  });
});

describe('ops topic', () => {
  test('its key lets grants be created only for AWS services acting on an AWS resource', () => {
    const [key] = resourcesOfType(stateful, 'AWS::KMS::Key');
    const statements = (key?.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;

    expect(statements).toContainEqual({
      Sid: 'GrantsOnlyForAwsServices',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    });
  });
});

describe('IAM', () => {
  /** Statements every function has: its own log group, X-Ray, and (in the VPC) the ENI calls. */
  function isBaseline(statement: PolicyStatement, ownLogGroup: string): boolean {
    const actions = actionsOf(statement);
    if (actions.every((action) => action === 'logs:CreateLogStream' || action === 'logs:PutLogEvents')) {
      return resourcesOf(statement).every((r) => referencedLogicalId(r) === ownLogGroup);
    }
    return (
      resourcesOf(statement).every((r) => r === '*') &&
      actions.every(
        (action) =>
          action.startsWith('xray:Put') || action.startsWith('ec2:') || action.endsWith('NetworkInterface'),
      )
    );
  }

  test('no identity policy in either stack allows a wildcard action', () => {
    for (const template of [stateful, stateless]) {
      const statements = [
        ...resourcesOfType(template, 'AWS::IAM::Policy').flatMap(
          (policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement,
        ),
        ...resourcesOfType(template, 'AWS::IAM::Role').flatMap((role) =>
          (
            (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[]
          ).flatMap((policy) => policy.PolicyDocument.Statement),
        ),
      ];
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        for (const action of actionsOf(statement)) expect(action).not.toContain('*');
      }
    }
  });

  test('no function role carries an AWS managed policy', () => {
    for (const { name, fn, template, stack } of appFunctions()) {
      const roleId = referencedLogicalId(resource(template, logicalIdOf(stack, fn)).Properties.Role) ?? '';
      expect(resource(template, roleId).Properties.ManagedPolicyArns, name).toBeUndefined();
    }
  });

  test('each function is granted exactly the actions its handler uses', () => {
    const database = ['rds-db:connect'];
    // Lambda sends a failed scheduled run to the job's failed-runs queue with the function's role.
    const failureDestination = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
    // The payment provider's API key (Secrets Manager), for every function that builds the gateway.
    const providerCredential = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
    const expected: Record<string, string[]> = {
      placeOrder: [
        ...database,
        'dynamodb:UpdateItem',
        ...IDEMPOTENCY_ACTIONS,
        'states:StartExecution',
        // A start that failed or was throttled goes to the saga-start queue (docs/adr/0019).
        'sqs:SendMessage',
        // The operators' checkout switch, read with Powertools Parameters (docs/adr/0024).
        'dynamodb:Query',
      ],
      getOrder: [...database, 'dynamodb:UpdateItem'],
      getLiveness: [],
      getReadiness: [...database, 'dynamodb:DescribeTable'],
      putProduct: database,
      getProduct: database,
      putWallet: database,
      getWallet: database,
      listCompensations: database,
      retryCompensation: [...database, 'sqs:SendMessage'],
      getAdminOrder: [...database, 'states:DescribeExecution'],
      CompensationWorker: [
        ...database,
        ...providerCredential,
        ...IDEMPOTENCY_ACTIONS,
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        // A last attempt that cannot record its failure queues the compensation again.
        'sqs:SendMessage',
      ],
      SagaStarter: [
        ...database,
        'states:StartExecution',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ],
      OrderSweeper: [
        ...database,
        'states:StartExecution',
        'states:DescribeExecution',
        'sqs:SendMessage',
        ...failureDestination,
        ...providerCredential,
      ],
      OutboxRelay: [...database, 'events:PutEvents', ...failureDestination],
      SimulatedPaymentProvider: providerCredential,
      SchemaMigrations: [...database, 'secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    };
    for (const state of checkout.stateless.saga.functions.keys()) {
      expected[state] = [...database, ...providerCredential];
    }

    for (const { name, fn, template, stack } of appFunctions()) {
      const lambda = resource(template, logicalIdOf(stack, fn));
      const roleId = referencedLogicalId(lambda.Properties.Role) ?? '';
      const ownLogGroup =
        referencedLogicalId((lambda.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup) ?? '';
      const granted = roleStatements(template, roleId)
        .filter((statement) => !isBaseline(statement, ownLogGroup))
        .flatMap(actionsOf);

      expect(granted.sort(), name).toEqual([...(expected[name] ?? ['<missing expectation>'])].sort());
    }
  });

  test('table grants name the right table: the API its own, the worker the compensation one', () => {
    const tableOf = (name: string) => {
      const { fn, template, stack } = appFunctions().find((f) => f.name === name) as ReturnType<
        typeof appFunctions
      >[number];
      const roleId = referencedLogicalId(resource(template, logicalIdOf(stack, fn)).Properties.Role) ?? '';
      const statement = roleStatements(template, roleId).find((s) =>
        actionsOf(s).includes('dynamodb:PutItem'),
      );
      return referencedLogicalId(followCrossStack(resourcesOf(statement as PolicyStatement)[0], stateful));
    };
    const tableId = (table: { table: { node: { defaultChild?: unknown } } }) =>
      checkout.stateful.getLogicalId(table.table.node.defaultChild as never);

    expect(tableOf('placeOrder')).toBe(tableId(checkout.stateful.apiIdempotency));
    expect(tableOf('CompensationWorker')).toBe(tableId(checkout.stateful.compensationIdempotency));
  });

  test("checkout queries only the switches' partition of the operator controls table, which only operators write", () => {
    const { fn, template, stack } = appFunctions().find((f) => f.name === 'placeOrder') as ReturnType<
      typeof appFunctions
    >[number];
    const lambda = resource(template, logicalIdOf(stack, fn));
    const query = roleStatements(template, referencedLogicalId(lambda.Properties.Role) ?? '').find((s) =>
      actionsOf(s).includes('dynamodb:Query'),
    ) as PolicyStatement & { Condition?: unknown };
    const controls = checkout.stateful.operatorControls.table;
    const tableId = checkout.stateful.getLogicalId(controls.node.defaultChild as never);
    const table = resource(stateful, tableId);

    expect(actionsOf(query)).toEqual(['dynamodb:Query']);
    expect(referencedLogicalId(followCrossStack(resourcesOf(query)[0], stateful))).toBe(tableId);
    expect(query.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['switches'] },
    });
    expect(
      referencedLogicalId(
        followCrossStack(
          (lambda.Properties.Environment as { Variables: Record<string, unknown> }).Variables
            .OPERATOR_CONTROLS_TABLE_NAME,
          stateful,
        ),
      ),
    ).toBe(tableId);
    const policy = (
      table.Properties.ResourcePolicy as { PolicyDocument: { Statement: Record<string, unknown>[] } }
    ).PolicyDocument.Statement;
    expect(policy).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']),
        Condition: { ArnNotLike: { 'aws:PrincipalArn': expect.any(Array) } },
      }),
    ]);
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  test('the operator routes send only to the compensation queue and describe only saga executions', () => {
    const statementsOf = (name: string) => {
      const { fn, template, stack } = appFunctions().find((f) => f.name === name) as ReturnType<
        typeof appFunctions
      >[number];
      const lambda = resource(template, logicalIdOf(stack, fn));
      return {
        statements: roleStatements(template, referencedLogicalId(lambda.Properties.Role) ?? ''),
        environment: (lambda.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
      };
    };
    const retry = statementsOf('retryCompensation');
    const order = statementsOf('getAdminOrder');
    const send = retry.statements.find((s) => actionsOf(s).includes('sqs:SendMessage')) as PolicyStatement;
    const describe = order.statements.find((s) =>
      actionsOf(s).includes('states:DescribeExecution'),
    ) as PolicyStatement;
    const queueId = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.queue.node.defaultChild as never,
    );

    expect(referencedLogicalId(followCrossStack(resourcesOf(send)[0], stateful))).toBe(queueId);
    expect(referencedLogicalId(followCrossStack(retry.environment.COMPENSATION_QUEUE_URL, stateful))).toBe(
      queueId,
    );
    expect(JSON.stringify(resourcesOf(describe))).toContain(':execution:');
    expect(order.environment.STATE_MACHINE_ARN).toBeDefined();
  });

  test("the state machine may invoke exactly its task functions' live aliases and send to the compensation queue", () => {
    const [machine] = resourcesOfType(stateless, 'AWS::StepFunctions::StateMachine');
    const statements = roleStatements(stateless, referencedLogicalId(machine?.Properties.RoleArn) ?? '');
    const invoke = statements.find((s) => actionsOf(s).includes('lambda:InvokeFunction')) as PolicyStatement;
    const send = statements.find((s) => actionsOf(s).includes('sqs:SendMessage')) as PolicyStatement;
    const taskFunctions = [...checkout.stateless.saga.functions.values()].map((fn) =>
      aliasLogicalIdOf(checkout.stateless, fn),
    );

    expect(resourcesOf(invoke).map(referencedLogicalId).sort()).toEqual(taskFunctions.sort());
    expect(actionsOf(send)).toEqual(['sqs:SendMessage']);
    expect(referencedLogicalId(followCrossStack(resourcesOf(send)[0], stateful))).toBe(
      checkout.stateful.getLogicalId(checkout.stateful.compensationQueue.queue.node.defaultChild as never),
    );
  });
});

describe('compensation queues', () => {
  test('source queue: redrive to the DLQ after 5 receives, encrypted, visibility six times the worker timeout', () => {
    const queueId = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.queue.node.defaultChild as never,
    );
    const dlqId = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.deadLetterQueue.node.defaultChild as never,
    );
    const queue = resource(stateful, queueId).Properties;
    const worker = resource(
      stateless,
      logicalIdOf(checkout.stateless, checkout.stateless.compensationWorker.handler),
    ).Properties;

    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * (worker.Timeout as number));
  });

  test('DLQ: encrypted, kept 14 days, longer than the source queue keeps messages', () => {
    const queue = resource(
      stateful,
      checkout.stateful.getLogicalId(checkout.stateful.compensationQueue.queue.node.defaultChild as never),
    ).Properties;
    const dlq = resource(
      stateful,
      checkout.stateful.getLogicalId(
        checkout.stateful.compensationQueue.deadLetterQueue.node.defaultChild as never,
      ),
    ).Properties;

    expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(dlq.MessageRetentionPeriod as number).toBeGreaterThan(queue.MessageRetentionPeriod as number);
  });

  test.each([
    ['compensationQueue', 'checkout-dev-compensations'],
    ['sagaStartQueue', 'checkout-dev-saga-starts'],
  ] as const)('DLQ of the %s: admits its queue as its only source, named by ARN', (name, queueName) => {
    const queue = resource(
      stateful,
      checkout.stateful.getLogicalId(checkout.stateful[name].queue.node.defaultChild as never),
    ).Properties;
    const dlq = resource(
      stateful,
      checkout.stateful.getLogicalId(checkout.stateful[name].deadLetterQueue.node.defaultChild as never),
    ).Properties;
    const { redrivePermission, sourceQueueArns } = dlq.RedriveAllowPolicy as {
      redrivePermission: string;
      sourceQueueArns: unknown[];
    };

    expect(queue.QueueName).toBe(queueName);
    expect(redrivePermission).toBe('byQueue');
    expect(sourceQueueArns).toHaveLength(1);
    expect(JSON.stringify(sourceQueueArns[0])).toContain(`:sqs:us-east-1:123456789012:${queueName}"`);
  });

  test('every queue refuses requests without TLS', () => {
    const policies = resourcesOfType(stateful, 'AWS::SQS::QueuePolicy');
    // The compensation queue and the saga-start queue, each with its DLQ.
    expect(policies.length).toBe(4);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      });
    }
  });

  test('the worker consumes the queue with partial batch failures and a concurrency cap', () => {
    const compensationQueueId = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.queue.node.defaultChild as never,
    );
    const mapping = resourcesOfType(stateless, 'AWS::Lambda::EventSourceMapping').find(
      (candidate) =>
        referencedLogicalId(followCrossStack(candidate.Properties.EventSourceArn, stateful)) ===
        compensationQueueId,
    ) as TemplateResource;

    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 5 });
    expect(referencedLogicalId(followCrossStack(mapping.Properties.EventSourceArn, stateful))).toBe(
      checkout.stateful.getLogicalId(checkout.stateful.compensationQueue.queue.node.defaultChild as never),
    );
    // The live alias (`<function name>:live`, taken from the alias ARN).
    expect(JSON.stringify(mapping.Properties.FunctionName)).toContain(
      `"Ref":"${aliasLogicalIdOf(checkout.stateless, checkout.stateless.compensationWorker.handler)}"`,
    );
  });
});

describe('saga-start queue and starter (docs/adr/0019)', () => {
  const queueOf = (queue: Queue) =>
    resource(stateful, checkout.stateful.getLogicalId(queue.node.defaultChild as never)).Properties;

  test('encrypted, with a DLQ after 20 receives that keeps messages longer, visibility 6 × the starter timeout', () => {
    const { queue, deadLetterQueue } = checkout.stateful.sagaStartQueue;
    const source = queueOf(queue);
    const dlq = queueOf(deadLetterQueue);
    const starter = resource(
      stateless,
      logicalIdOf(checkout.stateless, checkout.stateless.sagaStarter.handler),
    ).Properties;

    expect(source.SqsManagedSseEnabled).toBe(true);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(source.RedrivePolicy).toEqual({
      deadLetterTargetArn: {
        'Fn::GetAtt': [checkout.stateful.getLogicalId(deadLetterQueue.node.defaultChild as never), 'Arn'],
      },
      maxReceiveCount: 20,
    });
    expect(dlq.MessageRetentionPeriod as number).toBeGreaterThan(source.MessageRetentionPeriod as number);
    expect(source.VisibilityTimeout).toBe(
      checkout.config.budget.sagaStartQueue.visibilityToTimeoutRatio * (starter.Timeout as number),
    );
  });

  test('the starter consumes it through its live alias: batches of 10, at most 2 at once, partial batch failures', () => {
    const queueId = checkout.stateful.getLogicalId(
      checkout.stateful.sagaStartQueue.queue.node.defaultChild as never,
    );
    const mapping = resourcesOfType(stateless, 'AWS::Lambda::EventSourceMapping').find(
      (candidate) =>
        referencedLogicalId(followCrossStack(candidate.Properties.EventSourceArn, stateful)) === queueId,
    ) as TemplateResource;

    expect(mapping.Properties.BatchSize).toBe(10);
    expect(mapping.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 2 });
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(JSON.stringify(mapping.Properties.FunctionName)).toContain(
      `"Ref":"${aliasLogicalIdOf(checkout.stateless, checkout.stateless.sagaStarter.handler)}"`,
    );
  });

  test('checkout may send to the saga-start queue only, and gets its URL; the starter starts only through the live alias', () => {
    const queueId = checkout.stateful.getLogicalId(
      checkout.stateful.sagaStartQueue.queue.node.defaultChild as never,
    );
    const grantsOf = (name: string) => {
      const { fn, template, stack } = appFunctions().find((f) => f.name === name) as ReturnType<
        typeof appFunctions
      >[number];
      const lambda = resource(template, logicalIdOf(stack, fn));
      return {
        statements: roleStatements(template, referencedLogicalId(lambda.Properties.Role) ?? ''),
        environment: (lambda.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
      };
    };
    const placeOrder = grantsOf('placeOrder');
    const starter = grantsOf('SagaStarter');
    const send = placeOrder.statements.find((st) =>
      actionsOf(st).includes('sqs:SendMessage'),
    ) as PolicyStatement;
    const start = starter.statements.find((st) =>
      actionsOf(st).includes('states:StartExecution'),
    ) as PolicyStatement;

    expect(resourcesOf(send).map((arn) => referencedLogicalId(followCrossStack(arn, stateful)))).toEqual([
      queueId,
    ]);
    expect(referencedLogicalId(followCrossStack(placeOrder.environment.SAGA_START_QUEUE_URL, stateful))).toBe(
      queueId,
    );
    expect(resourcesOf(start)).toEqual([
      { 'Fn::GetAtt': [checkout.stateless.getLogicalId(checkout.stateless.saga.live.alias), 'Arn'] },
    ]);
    expect(starter.environment.SAGA_STARTS_PER_SECOND).toBe('50');
  });
});

describe('idempotency tables', () => {
  test('both: partition key `id`, TTL on `expiration`, point-in-time recovery, on demand', () => {
    const tables = resourcesOfType(stateful, 'AWS::DynamoDB::Table').filter((table) =>
      cdkPath(table).includes('Idempotency/'),
    );
    expect(tables.length).toBe(2);
    for (const table of tables) {
      expect(table.Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
    }
  });
});

describe('payment saga state machine', () => {
  test('Standard workflow, every event logged with execution data, X-Ray tracing on', () => {
    const logGroupId = checkout.stateless.getLogicalId(
      checkout.stateless.saga.logGroup.node.defaultChild as never,
    );
    stateless.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'checkout-dev-payment-saga',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
      },
      TracingConfiguration: { Enabled: true },
    });
  });
});

describe('REST API', () => {
  /** Resource logical id → full path, from the Resource tree of the template. */
  function resourcePaths(): Map<string, string> {
    const resources = resourcesOfType(stateless, 'AWS::ApiGateway::Resource');
    const paths = new Map<string, string>();
    const pathOf = (logicalId: string): string => {
      const known = paths.get(logicalId);
      if (known !== undefined) return known;
      const item = resources.find((r) => r.logicalId === logicalId);
      if (!item) return ''; // the root resource
      const parent = referencedLogicalId(item.Properties.ParentId);
      const parentPath = parent && resources.some((r) => r.logicalId === parent) ? pathOf(parent) : '';
      const full = `${parentPath}/${item.Properties.PathPart as string}`;
      paths.set(logicalId, full);
      return full;
    };
    for (const item of resources) pathOf(item.logicalId);
    return paths;
  }

  function methodOf(route: (typeof API_ROUTES)[number]): TemplateResource {
    const paths = resourcePaths();
    const matches = resourcesOfType(stateless, 'AWS::ApiGateway::Method').filter(
      (method) =>
        method.Properties.HttpMethod === route.method &&
        paths.get(referencedLogicalId(method.Properties.ResourceId) ?? '') === route.path,
    );
    if (matches.length !== 1) throw new Error(`expected one method for ${route.method} ${route.path}`);
    return matches[0] as TemplateResource;
  }

  test('exactly the routes of the route table, each invoking the live alias of its own function', () => {
    const methods = resourcesOfType(stateless, 'AWS::ApiGateway::Method');
    expect(methods.length).toBe(API_ROUTES.length);
    for (const route of API_ROUTES) {
      const integration = methodOf(route).Properties.Integration as { Type: string; Uri: unknown };
      const fn = checkout.stateless.apiHandlers.functions.get(route.operationId) as CheckoutFunction;
      expect(integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(integration.Uri)).toContain(aliasLogicalIdOf(checkout.stateless, fn));
    }
  });

  test('the Cognito authorizer and an API key on every customer route', () => {
    const [authorizer] = resourcesOfType(stateless, 'AWS::ApiGateway::Authorizer');
    expect(authorizer?.Properties).toMatchObject({
      Type: 'COGNITO_USER_POOLS',
      IdentitySource: 'method.request.header.Authorization',
    });
    const customerRoutes = API_ROUTES.filter((route) => route.auth === 'customer');

    expect(customerRoutes.length).toBeGreaterThan(0);
    for (const route of customerRoutes) {
      expect(methodOf(route).Properties, route.operationId).toMatchObject({
        AuthorizationType: 'COGNITO_USER_POOLS',
        AuthorizerId: { Ref: authorizer?.logicalId },
        ApiKeyRequired: true,
      });
    }
  });

  test('IAM authorisation on every admin route', () => {
    const adminRoutes = API_ROUTES.filter((route) => route.auth === 'admin');

    expect(adminRoutes.length).toBeGreaterThan(0);
    for (const route of adminRoutes) {
      expect(methodOf(route).Properties.AuthorizationType, route.operationId).toBe('AWS_IAM');
    }
  });

  test('only the health routes are public', () => {
    const publicRoutes = API_ROUTES.filter(
      (route) => methodOf(route).Properties.AuthorizationType === 'NONE',
    );
    expect(publicRoutes.map((route) => route.path).sort()).toEqual(['/health/live', '/health/ready']);
  });

  test('every method validates its request; bodies must be JSON objects', () => {
    const [validator] = resourcesOfType(stateless, 'AWS::ApiGateway::RequestValidator');
    expect(validator?.Properties).toMatchObject({
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const route of API_ROUTES) {
      const method = methodOf(route).Properties;
      expect(method.RequestValidatorId, route.operationId).toEqual({ Ref: validator?.logicalId });
      if (takesJsonBody(route)) {
        expect(method.RequestModels, route.operationId).toEqual({ 'application/json': expect.anything() });
      } else {
        expect(method.RequestModels, route.operationId).toBeUndefined();
      }
      for (const name of route.path.match(/\{(\w+)\}/g) ?? []) {
        expect(method.RequestParameters, route.operationId).toMatchObject({
          [`method.request.path.${name.slice(1, -1)}`]: true,
        });
      }
    }
  });

  test('the stage: JSON access logs, X-Ray, error logging, throttling sized from the budget', () => {
    // Dev reserves nothing: the stage admits what a fresh account's 10 concurrent executions serve.
    const { rateLimit, burstLimit } = checkout.config.apiThrottle;
    expect({ rateLimit, burstLimit }).toEqual({ rateLimit: 20, burstLimit: 10 });
    stateless.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
      MethodSettings: [
        Match.objectLike({
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: rateLimit,
          ThrottlingBurstLimit: burstLimit,
        }),
      ],
    });
  });

  test('a usage plan with one key per client app and no quota or throttle a few customers could use up', () => {
    const [plan] = resourcesOfType(stateless, 'AWS::ApiGateway::UsagePlan');

    expect(plan?.Properties.ApiStages).toEqual([expect.objectContaining({ Stage: expect.anything() })]);
    expect(plan?.Properties).not.toHaveProperty('Quota');
    expect(plan?.Properties).not.toHaveProperty('Throttle');
    stateless.resourceCountIs('AWS::ApiGateway::UsagePlanKey', checkout.config.apiClients.length);
  });

  test('gateway errors answer in the API problem format', () => {
    stateless.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.Content-Type': "'application/problem+json'",
      }),
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"THROTTLED"') },
    });
    stateless.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"UNAUTHORIZED"') },
    });
  });

  test('a WAF web ACL protects the stage', () => {
    const [acl] = resourcesOfType(stateless, 'AWS::WAFv2::WebACL');
    stateless.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [acl?.logicalId, 'Arn'] },
    });
  });
});

describe('alarms', () => {
  function opsTopic(): unknown {
    return {
      Ref: checkout.stateful.getLogicalId(checkout.stateful.opsTopic.topic.node.defaultChild as never),
    };
  }

  test('every alarm notifies the ops topic, when it fires and when it clears', () => {
    const alarms = resourcesOfType(stateless, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(6);
    for (const alarm of alarms) {
      for (const actions of [alarm.Properties.AlarmActions, alarm.Properties.OKActions] as unknown[][]) {
        expect(actions.map((action) => followCrossStack(action, stateful))).toEqual([opsTopic()]);
      }
    }
  });

  test('DLQ depth of 1 or more alarms on the ops topic', () => {
    const dlq = checkout.stateful.getLogicalId(
      checkout.stateful.compensationQueue.deadLetterQueue.node.defaultChild as never,
    );
    const alarm = resourcesOfType(stateless, 'AWS::CloudWatch::Alarm').find(
      (candidate) =>
        candidate.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        (candidate.Properties.Dimensions as { Value: unknown }[]).some(
          (dimension) => referencedLogicalId(followCrossStack(dimension.Value, stateful)) === dlq,
        ),
    );

    expect(alarm?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
    expect((alarm?.Properties.AlarmActions as unknown[]).map((a) => followCrossStack(a, stateful))).toEqual([
      opsTopic(),
    ]);
  });

  test('API p99 latency above 2 s', () => {
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: 'Latency',
      ExtendedStatistic: 'p99',
      Threshold: 2000,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: Match.arrayWith([
        Match.objectLike({ Name: 'ApiName' }),
        { Name: 'Stage', Value: Match.anyValue() },
      ]),
    });
    expect(ALARM_THRESHOLDS.apiLatencyP99Ms).toBe(2000);
  });

  test('API 5xx rate above 5 %', () => {
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' }),
        Match.objectLike({
          Id: 'errors',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: '5XXError', Namespace: 'AWS/ApiGateway' }),
          }),
        }),
      ]),
    });
  });

  test('saga failures, compensation queue age and proxy connection saturation', () => {
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ExecutionsFailed', Namespace: 'AWS/States' }),
          }),
        }),
      ]),
    });
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: ALARM_THRESHOLDS.compensationAgeSeconds,
    });
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 80,
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'MaxDatabaseConnectionsAllowed', Namespace: 'AWS/RDS' }),
          }),
        }),
      ]),
    });
  });

  test('error-rate and throttle alarms for every function but the simulated provider', () => {
    const watched = [...checkout.stateless.monitoring.functionAlarms.keys()].sort();
    const expected = appFunctions()
      .map((f) => f.name)
      .filter((name) => name !== 'SimulatedPaymentProvider' && name !== 'SchemaMigrations')
      .sort();

    expect(watched).toEqual(expected);
    const throttleAlarms = resourcesOfType(stateless, 'AWS::CloudWatch::Alarm').filter(
      (alarm) => alarm.Properties.MetricName === 'Throttles',
    );
    expect(throttleAlarms.length).toBe(expected.length);
  });

  test('compensation failure rate above 50 % of at least 3 attempts, two 5-minute periods running', () => {
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('-CompensationFailureRate$'),
      Threshold: ALARM_THRESHOLDS.compensationFailureRatePercent,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(attempts >= 3, 100 * failures / attempts, 0)' }),
        Match.objectLike({
          Id: 'failures',
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'Checkout',
              MetricName: 'CompensationAttemptFailures',
              Dimensions: [{ Name: 'service', Value: 'checkout' }],
            },
            Stat: 'Sum',
            Period: 300,
          }),
        }),
      ]),
    });
    expect(ALARM_THRESHOLDS.compensationFailureRatePercent).toBe(50);
  });

  test('one dashboard, with the KPIs: saga success rate, compensation failure rate and time to resolution, alert volume', () => {
    stateless.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [dashboard] = resourcesOfType(stateless, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);

    expect(body).toContain('KPIs over the dashboard period');
    expect(body).toContain(
      'IF(succeeded + failed + timedOut + aborted > 0, 100 * succeeded / (succeeded + failed + timedOut + aborted), 100)',
    );
    expect(body).toContain('CompensationAttemptFailures');
    expect(body).toMatch(/CompensationTimeToResolve.*p90/);
    expect(body).toContain('NumberOfMessagesPublished');
  });
});
