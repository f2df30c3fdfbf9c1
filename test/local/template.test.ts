import { beforeAll, describe, expect, test } from 'vitest';
import { prepareLocalBuild } from '../../local/lambda/build.js';
import { localEnvironment } from '../../local/lambda/local-differences.js';
import {
  CloudAssembly,
  IntrinsicResolver,
  type LocalApplication,
  readLocalApplication,
  type TemplateFunction,
} from '../../local/lambda/template.js';

/** The synthesized app (built once per source change by the test run's global setup). */
describe('local mode reads the synthesized CDK app', () => {
  let app: LocalApplication;
  const fn = (name: string) => app.functions.find((candidate) => candidate.name === name) as TemplateFunction;

  beforeAll(async () => {
    const { assemblyDir } = await prepareLocalBuild({ progress: () => {} });
    const assembly = new CloudAssembly(assemblyDir);
    app = readLocalApplication(
      assembly,
      new IntrinsicResolver(assembly, (resource, attribute) => {
        if (resource.type === 'AWS::SQS::Queue' && attribute === undefined)
          return `http://sqs.local/${resource.name}`;
        if (resource.type === 'AWS::RDS::DBProxy') return 'proxy.local';
        if (resource.type === 'AWS::Lambda::Url') return 'http://provider.local';
        return undefined;
      }),
    );
  });

  test('every function: its entry and export, memory, timeout and reserved concurrency', () => {
    expect(fn('checkout-placeOrder')).toMatchObject({
      entry: 'lambdas/api/checkout.ts',
      handlerExport: 'handler',
      memoryMb: 512,
      timeoutSeconds: 17,
    });
    // A saga step ends before its Task's TimeoutSeconds, 35 s (docs/adr/0020).
    expect(fn('checkout-AuthorizePayment').timeoutSeconds).toBe(32);
    expect(fn('checkout-AuthorizePayment').reservedConcurrency).toBeUndefined();
    expect(fn('checkout-getReadiness').handlerExport).toBe('readyHandler');
  });

  test('environments with intrinsics resolved: cross-stack outputs, aliases, local values', () => {
    const { environment } = fn('checkout-placeOrder');

    expect(environment).toMatchObject({
      IDEMPOTENCY_TABLE_NAME: 'ApiIdempotency-Table',
      CUSTOMER_LIMITS_TABLE_NAME: 'CustomerLimits-Table',
      STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:checkout-dev-payment-saga:live',
      DB_PROXY_ENDPOINT: 'proxy.local',
    });
    expect(fn('checkout-CompensationWorker').environment.PAYMENT_PROVIDER_URL).toBe('http://provider.local');
  });

  test('the local differences: a database URL instead of the proxy and IAM, the provider key instead of the secret', () => {
    const environment = localEnvironment(fn('checkout-AuthorizePayment'), {
      databaseUrlFor: (user) => `postgres://${user}@db.local/postgres`,
      paymentProviderApiKey: 'key',
      timeScale: 0.001,
      awsEndpoints: { AWS_ENDPOINT_URL_SQS: 'http://sqs.local' },
      accessKeyId: 'ROLEKEY',
      startEnvironment: {},
    });

    expect(environment).toMatchObject({
      DATABASE_URL: 'postgres://checkout_app@db.local/postgres',
      PGAPPNAME: 'checkout-AuthorizePayment',
      PAYMENT_PROVIDER_API_KEY: 'key',
      PAYMENT_BREAKER_HALF_OPEN_AFTER_MS: '60',
      AWS_ACCESS_KEY_ID: 'ROLEKEY',
      AWS_ENDPOINT_URL_SQS: 'http://sqs.local',
    });
    for (const name of ['DB_PROXY_ENDPOINT', 'DB_USER', 'PAYMENT_PROVIDER_SECRET_ARN', 'NODE_OPTIONS']) {
      expect(environment).not.toHaveProperty(name);
    }
  });

  test("a function's connections carry its name, except through PgBouncer", () => {
    const settings = {
      databaseUrlFor: (user: string) => `postgres://${user}@db.local/postgres`,
      paymentProviderApiKey: 'key',
      timeScale: 0.001,
      awsEndpoints: {},
      accessKeyId: 'ROLEKEY',
      startEnvironment: {},
    };

    expect(localEnvironment(fn('checkout-placeOrder'), settings).PGAPPNAME).toBe('checkout-placeOrder');
    expect(
      localEnvironment(fn('checkout-placeOrder'), { ...settings, namedConnections: false }),
    ).not.toHaveProperty('PGAPPNAME');
  });

  test('queues with their redrive policy, the event source mappings with their settings', () => {
    const queue = app.queues.find((candidate) => candidate.name === 'checkout-dev-compensations');
    const sagaStarts = app.queues.find((candidate) => candidate.name === 'checkout-dev-saga-starts');

    expect(queue?.redrive?.maxReceiveCount).toBe(5);
    expect(sagaStarts?.redrive?.maxReceiveCount).toBe(20);
    expect(app.eventSourceMappings).toEqual([
      expect.objectContaining({
        queue: expect.objectContaining({ name: 'checkout-dev-compensations' }),
        batchSize: 1,
        maximumConcurrency: 5,
        reportBatchItemFailures: true,
      }),
      expect.objectContaining({
        queue: expect.objectContaining({ name: 'checkout-dev-saga-starts' }),
        batchSize: 10,
        maximumConcurrency: 2,
        reportBatchItemFailures: true,
      }),
    ]);
  });

  test('the state machine: its definition, substitutions resolved to the live aliases and the queue', () => {
    const [machine] = app.stateMachines;

    expect(JSON.parse(machine?.definition ?? '{}')).toHaveProperty('StartAt');
    expect(machine?.substitutions).toMatchObject({
      AuthorizePaymentFunctionArn:
        'arn:aws:lambda:us-east-1:123456789012:function:checkout-AuthorizePayment:live',
      CompensationQueueUrl: 'http://sqs.local/checkout-dev-compensations',
    });
  });

  test('API methods with their authoriser, schedules with their rate', () => {
    expect(app.apiMethods).toContainEqual(
      expect.objectContaining({
        httpMethod: 'POST',
        path: '/v1/checkout',
        authorizationType: 'COGNITO_USER_POOLS',
      }),
    );
    expect(app.apiMethods).toContainEqual(
      expect.objectContaining({
        httpMethod: 'GET',
        path: '/v1/admin/orders/{orderId}',
        authorizationType: 'AWS_IAM',
      }),
    );
    expect(app.schedules.map((schedule) => schedule.rateSeconds).sort()).toEqual([120, 60].sort());
  });

  test("role policies resolved to local ARNs: the saga's role may invoke its tasks' aliases", () => {
    const [machine] = app.stateMachines;
    const statements = app.policies.get(`${machine?.role.stack}/${machine?.role.logicalId}`) ?? [];

    expect(statements.flatMap((statement) => statement.resources)).toContain(
      'arn:aws:lambda:us-east-1:123456789012:function:checkout-AuthorizePayment:live',
    );
  });
});
