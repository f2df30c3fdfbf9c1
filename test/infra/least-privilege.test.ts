import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { JOB_ALARM_THRESHOLDS } from '../../lib/constructs/job-alarms.js';
import { API_ROUTES } from '../../src/api/routes.js';
import { APPLICATION_ROLE } from '../../src/db/roles.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
import {
  actionsOf,
  followCrossStack,
  type PolicyStatement,
  referencedLogicalId,
  resourceAtPath,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type TemplateResource,
} from './support/template-queries.js';

/** Least privilege and abuse limits (per-customer limits, roles, TLS, admin access, ...). */
let checkout: SynthesizedCheckout;
let stateful: Template;
let stateless: Template;

beforeAll(() => {
  checkout = synthesizeCheckout({ stage: 'dev', bundle: false });
  stateful = checkout.statefulTemplate;
  stateless = checkout.statelessTemplate;
});

function lambdaAt(operation: string): TemplateResource {
  return resourceAtPath(stateless, `Stateless/ApiHandlers/${operation}/Function/Resource`);
}
function environmentOf(fn: TemplateResource): Record<string, unknown> {
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}
function statementsOf(template: Template, fn: TemplateResource): PolicyStatement[] {
  return roleStatements(template, referencedLogicalId(fn.Properties.Role) ?? '');
}
const logicalIdOf = (
  construct: { node: { defaultChild?: unknown } },
  stack: { getLogicalId(element: never): string } = checkout.stateful,
) => stack.getLogicalId(construct.node.defaultChild as never);

describe('per-customer limits', () => {
  test('a table of its own: key `id`, TTL on `expiresAt`, on demand', () => {
    const table = resourceAtPath(stateful, 'Stateful/CustomerLimits/Table/Resource');
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  test('checkout enforces requests and checkouts per minute, the order read requests only, each with UpdateItem on that table alone', () => {
    const tableId = logicalIdOf(checkout.stateful.customerLimits.table);
    const limitsGrant = (fn: TemplateResource) =>
      statementsOf(stateless, fn).filter((s) =>
        resourcesOf(s).some((r) => referencedLogicalId(followCrossStack(r, stateful)) === tableId),
      );
    const placeOrder = lambdaAt('placeOrder');
    const getOrder = lambdaAt('getOrder');

    expect(environmentOf(placeOrder)).toMatchObject({
      CUSTOMER_REQUESTS_PER_MINUTE: '100',
      CUSTOMER_CHECKOUTS_PER_MINUTE: '10',
    });
    expect(environmentOf(getOrder)).toMatchObject({ CUSTOMER_REQUESTS_PER_MINUTE: '100' });
    expect(environmentOf(getOrder)).not.toHaveProperty('CUSTOMER_CHECKOUTS_PER_MINUTE');
    for (const fn of [placeOrder, getOrder]) {
      expect(limitsGrant(fn).flatMap(actionsOf)).toEqual(['dynamodb:UpdateItem']);
    }
    expect(limitsGrant(lambdaAt('putWallet'))).toEqual([]);
  });

  test("the firewall limits each bearer token to the customer's own limits and each IP per minute, answering 429 RATE_LIMITED with Retry-After", () => {
    const [acl] = resourcesOfType(stateless, 'AWS::WAFv2::WebACL');
    const rules = acl?.Properties.Rules as { Name: string; Statement: unknown; Action: unknown }[];
    const rule = (name: string) => rules.find((candidate) => candidate.Name === name);
    const blocked = {
      Block: {
        CustomResponse: {
          ResponseCode: 429,
          CustomResponseBodyKey: 'RateLimited',
          ResponseHeaders: [{ Name: 'Retry-After', Value: '60' }],
        },
      },
    };

    const perToken = [
      { Header: { Name: 'authorization', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
    ];
    const rules_ = rules.map((candidate) => candidate.Name);

    // The customer's limits (stage config customerLimits), in front of the shared stage throttle.
    expect(rules_.indexOf('RateLimitPerToken')).toBeLessThan(rules_.indexOf('AWSManagedRulesCommonRuleSet'));
    expect(rule('CheckoutsPerToken')).toMatchObject({
      Action: blocked,
      Statement: {
        RateBasedStatement: {
          Limit: 10,
          EvaluationWindowSec: 60,
          AggregateKeyType: 'CUSTOM_KEYS',
          CustomKeys: perToken,
          ScopeDownStatement: {
            AndStatement: {
              Statements: [
                {
                  ByteMatchStatement: expect.objectContaining({
                    FieldToMatch: { Method: {} },
                    SearchString: 'POST',
                  }),
                },
                {
                  ByteMatchStatement: expect.objectContaining({
                    FieldToMatch: { UriPath: {} },
                    PositionalConstraint: 'ENDS_WITH',
                    SearchString: '/v1/checkout',
                  }),
                },
              ],
            },
          },
        },
      },
    });
    expect(rule('RateLimitPerToken')).toMatchObject({
      Action: blocked,
      Statement: {
        RateBasedStatement: {
          Limit: 100,
          EvaluationWindowSec: 60,
          AggregateKeyType: 'CUSTOM_KEYS',
          CustomKeys: [
            { Header: { Name: 'authorization', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
          ],
        },
      },
    });
    expect(rule('RateLimitPerIp')).toMatchObject({
      Action: blocked,
      Statement: { RateBasedStatement: { Limit: 1000, EvaluationWindowSec: 60, AggregateKeyType: 'IP' } },
    });
    const body = (
      acl?.Properties.CustomResponseBodies as Record<string, { Content: string; ContentType: string }>
    ).RateLimited;
    expect(body?.ContentType).toBe('APPLICATION_JSON');
    expect(JSON.parse(body?.Content ?? '{}')).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});

describe('database roles', () => {
  test('the proxy logs in with two secrets, the owner and the application role, both behind IAM', () => {
    const [proxy] = resourcesOfType(stateful, 'AWS::RDS::DBProxy');
    const secrets = (proxy?.Properties.Auth as { SecretArn: unknown; IAMAuth: string }[]).map((auth) => ({
      iam: auth.IAMAuth,
      secret: referencedLogicalId(auth.SecretArn),
    }));
    expect(secrets).toEqual([
      { iam: 'REQUIRED', secret: expect.stringMatching(/^DatabaseInstanceSecretAttachment/) },
      { iam: 'REQUIRED', secret: expect.stringMatching(/^DatabaseApplicationSecretAttachment/) },
    ]);
    stateful.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: {
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`"username":"${APPLICATION_ROLE}"`)])],
        },
      }),
    });
  });

  test('rds-db:connect names the application role for every function, the owner only for the migration runner', () => {
    const dbUsers = (template: Template, fn: TemplateResource) =>
      statementsOf(template, fn)
        .filter((s) => actionsOf(s).includes('rds-db:connect'))
        .flatMap(resourcesOf)
        // arn:...:dbuser:<proxy resource id>/<user>, joined by CloudFormation: the user is the last part.
        .map((resource) =>
          String((resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].at(-1)).slice(1),
        );
    const functions = resourcesOfType(stateless, 'AWS::Lambda::Function').filter(
      (fn) => 'DB_PROXY_ENDPOINT' in environmentOf(fn),
    );
    expect(functions.length).toBeGreaterThan(10);
    for (const fn of functions) {
      expect(environmentOf(fn).DB_USER, fn.logicalId).toBe(APPLICATION_ROLE);
      expect(dbUsers(stateless, fn), fn.logicalId).toEqual([APPLICATION_ROLE]);
    }
    const migrations = resourceAtPath(stateful, 'Stateful/SchemaMigrations/Handler/Function/Resource');
    expect(environmentOf(migrations).DB_USER).toBe('checkout');
    expect(dbUsers(stateful, migrations)).toEqual(['checkout']);
    expect(environmentOf(migrations).APP_DB_SECRET_ARN).toEqual({
      Ref: expect.stringMatching(/^DatabaseApplicationSecretAttachment/),
    });
  });

  test("the application secret's rotation waits for the migrations that create the role", () => {
    const rotation = resourcesOfType(stateful, 'AWS::SecretsManager::RotationSchedule').find((schedule) =>
      schedule.logicalId.startsWith('DatabaseApplicationSecret'),
    );
    expect(rotation?.DependsOn).toContain(logicalIdOf(checkout.stateful.migrations.resource));
    expect(rotation?.Properties).toMatchObject({ RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });
});

describe('admin routes only for operators', () => {
  test('the resource policy denies every admin route to anyone but the stage admin principals', () => {
    const [api] = resourcesOfType(stateless, 'AWS::ApiGateway::RestApi');
    const statements = (api?.Properties.Policy as { Statement: Record<string, unknown>[] }).Statement;
    const adminResources = API_ROUTES.filter((route) => route.auth === 'admin').map(
      (route) => `execute-api:/*/${route.method}${route.path.replace(/\{\w+\}/g, '*')}`,
    );
    const operator = ['arn:aws:iam::123456789012:role/checkout-dev-operator'];

    expect(statements.find((s) => s.Effect === 'Deny')).toEqual({
      Sid: 'AdminRoutesForNobodyElse',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'execute-api:Invoke',
      Resource: expect.arrayContaining(adminResources),
      Condition: { ArnNotLike: { 'aws:PrincipalArn': operator } },
    });
    const open = statements.find((s) => s.Sid === 'CustomerAndPublicRoutes');
    expect((open?.Resource as string[]).some((resource) => resource.includes('/v1/admin/'))).toBe(false);
  });

  test('admin principals come from the stage config or -c adminPrincipals, names or ARN patterns', () => {
    const custom = synthesizeCheckout({
      stage: 'dev',
      bundle: false,
      context: {
        adminPrincipals:
          'ops-a,arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*',
      },
    });
    const [api] = resourcesOfType(custom.statelessTemplate, 'AWS::ApiGateway::RestApi');
    const deny = (api?.Properties.Policy as { Statement: Record<string, unknown>[] }).Statement.find(
      (s) => s.Effect === 'Deny',
    );
    expect(deny?.Condition).toEqual({
      ArnNotLike: {
        'aws:PrincipalArn': [
          'arn:aws:iam::123456789012:role/ops-a',
          'arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*',
        ],
      },
    });
    expect(() =>
      synthesizeCheckout({ stage: 'dev', bundle: false, context: { adminPrincipals: 'not a role!' } }),
    ).toThrow(/adminPrincipals/);
  });
});

describe('readiness, provider credential, scheduled jobs, identity', () => {
  test('readiness may describe the idempotency table and read no item of it', () => {
    const actions = statementsOf(stateless, lambdaAt('getReadiness'))
      .flatMap(actionsOf)
      .filter((action) => action.startsWith('dynamodb:'));
    expect(actions).toEqual(['dynamodb:DescribeTable']);
    expect(environmentOf(lambdaAt('getReadiness'))).not.toHaveProperty('PAYMENT_PROVIDER_SECRET_ARN');
  });

  test('the provider credential is a secret that the payment functions and the simulated provider read', () => {
    const secretId = logicalIdOf(checkout.stateful.paymentProviderCredential.secret);
    const provider = resourceAtPath(
      stateless,
      'Stateless/SimulatedPaymentProvider/Handler/Function/Resource',
    );
    const capture = resourceAtPath(stateless, 'Stateless/PaymentSaga/CapturePayment/Function/Resource');
    for (const fn of [provider, capture]) {
      expect(
        referencedLogicalId(followCrossStack(environmentOf(fn).PAYMENT_PROVIDER_SECRET_ARN, stateful)),
      ).toBe(secretId);
      const reads = statementsOf(stateless, fn).filter((s) =>
        actionsOf(s).includes('secretsmanager:GetSecretValue'),
      );
      expect(
        reads.flatMap(resourcesOf).map((r) => referencedLogicalId(followCrossStack(r, stateful))),
      ).toEqual([secretId]);
    }
  });

  test('a failed scheduled run is not retried and goes to its failed-runs queue, which alarms', () => {
    const configs = resourcesOfType(stateless, 'AWS::Lambda::EventInvokeConfig');
    expect(configs.length).toBe(2);
    for (const job of [checkout.stateless.sweeper.job, checkout.stateless.outboxRelay.job]) {
      const queueId = logicalIdOf(job.failedRuns, checkout.stateless);
      const functionId = logicalIdOf(job.handler.function, checkout.stateless);
      expect(
        configs.find((c) => referencedLogicalId(c.Properties.FunctionName) === functionId)?.Properties,
      ).toMatchObject({
        MaximumRetryAttempts: 0,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
      stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
        Threshold: JOB_ALARM_THRESHOLDS.failedRuns,
      });
      stateless.hasResourceProperties('AWS::SQS::Queue', Match.objectLike({ SqsManagedSseEnabled: true }));
    }
  });

  test('alarms on database CPU and free storage; the proxy saturation alarm sums its metrics', () => {
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CPUUtilization',
      Namespace: 'AWS/RDS',
      Threshold: JOB_ALARM_THRESHOLDS.databaseCpuPercent,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'FreeStorageSpace',
      Threshold: JOB_ALARM_THRESHOLDS.databaseFreeStorageBytes,
      ComparisonOperator: 'LessThanThreshold',
    });
    const saturation = resourcesOfType(stateless, 'AWS::CloudWatch::Alarm').find((alarm) =>
      String(alarm.Properties.AlarmName).endsWith('-ProxyConnectionSaturation'),
    );
    const stats = (saturation?.Properties.Metrics as { MetricStat?: { Stat: string } }[])
      .filter((metric) => metric.MetricStat)
      .map((metric) => metric.MetricStat?.Stat);
    expect(stats).toEqual(['Sum', 'Sum']);
  });

  test('the app client allows SRP sign-in and refresh only: no OAuth flows, no callback URLs', () => {
    const [client] = resourcesOfType(stateful, 'AWS::Cognito::UserPoolClient');
    expect(client?.Properties.ExplicitAuthFlows).toEqual(['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']);
    expect(client?.Properties.AllowedOAuthFlowsUserPoolClient).toBe(false);
    expect(client?.Properties).not.toHaveProperty('AllowedOAuthFlows');
    expect(client?.Properties).not.toHaveProperty('CallbackURLs');
  });
});
