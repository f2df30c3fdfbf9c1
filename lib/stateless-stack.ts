import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { IUserPool } from 'aws-cdk-lib/aws-cognito';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { API_ROUTES } from '../src/api/routes.js';
import { SMOKE_TEST_API_CLIENT, type StageConfig } from './config.js';
import { apiAccessPolicy } from './constructs/api-access-policy.js';
import { ApiFirewall } from './constructs/api-firewall.js';
import { ApiHandlers } from './constructs/api-handlers.js';
import { CanaryDeployments, type FunctionRollout } from './constructs/canary-deployments.js';
import { CheckoutApi } from './constructs/checkout-api.js';
import type { PowertoolsSettings } from './constructs/checkout-function.js';
import type { CompensationQueue } from './constructs/compensation-queue.js';
import { CompensationWorker } from './constructs/compensation-worker.js';
import type { CustomerLimitsTable } from './constructs/customer-limits-table.js';
import type { CheckoutDatabase } from './constructs/database.js';
import type { IdempotencyTable } from './constructs/idempotency-table.js';
import { JobAlarms } from './constructs/job-alarms.js';
import { liveAlias } from './constructs/live-alias.js';
import { Monitoring } from './constructs/monitoring.js';
import type { OperatorControlsTable } from './constructs/operator-controls-table.js';
import { OrderSweeper } from './constructs/order-sweeper.js';
import { OutboxRelay } from './constructs/outbox-relay.js';
import { PaymentProviderEndpoint, SimulatedPaymentProvider } from './constructs/payment-provider.js';
import { PaymentSaga } from './constructs/payment-saga.js';
import type { SagaStartQueue } from './constructs/saga-start-queue.js';
import { SagaStarter } from './constructs/saga-starter.js';

export interface StatelessStackProps extends StackProps {
  readonly config: StageConfig;
  readonly powertools: PowertoolsSettings;
  /** The VPC the functions run in (private subnets with egress). */
  readonly vpc: IVpc;
  readonly database: CheckoutDatabase;
  /** Idempotency records of the API's write endpoints. */
  readonly apiIdempotency: IdempotencyTable;
  /** Idempotency records of the compensation worker. */
  readonly compensationIdempotency: IdempotencyTable;
  readonly compensationQueue: CompensationQueue;
  /** Where checkout hands saga starts that failed or were throttled (docs/adr/0019). */
  readonly sagaStartQueue: SagaStartQueue;
  /** The payment provider's API key. */
  readonly paymentProviderCredential: ISecret;
  /** Counters of the per-customer limits. */
  readonly customerLimits: CustomerLimitsTable;
  /** The operators' kill switches: checkout reads its own. */
  readonly operatorControls: OperatorControlsTable;
  /** Customers' user pool, whose tokens the API's authorizer accepts. */
  readonly userPool: IUserPool;
  /** Where the outbox relay publishes. */
  readonly eventBus: IEventBus;
  /** Every alarm notifies this topic. */
  readonly opsTopic: ITopic;
  /** Quoted in the DLQ alarm, for the operator who gets it. */
  readonly deadLetterQueueConsoleUrl: string;
}

/**
 * The code and its wiring, safe to destroy and redeploy at any time: the functions, the saga state
 * machine, the API, the compensation worker, the saga starter, the scheduled jobs, the simulated payment provider
 * (non-production) and the dashboard and alarms.
 */
export class StatelessStack extends Stack {
  readonly saga: PaymentSaga;
  readonly apiHandlers: ApiHandlers;
  readonly api: CheckoutApi;
  readonly compensationWorker: CompensationWorker;
  readonly sagaStarter: SagaStarter;
  readonly sweeper: OrderSweeper;
  readonly outboxRelay: OutboxRelay;
  readonly paymentProvider?: SimulatedPaymentProvider;
  readonly monitoring: Monitoring;
  readonly jobAlarms: JobAlarms;
  readonly deployments: CanaryDeployments;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, powertools, database, compensationQueue, sagaStartQueue } = props;
    const common = { vpc: props.vpc, logRetention: config.logRetention, powertools };

    let providerUrl: string;
    if (config.paymentProvider.kind === 'simulated') {
      this.paymentProvider = new SimulatedPaymentProvider(this, 'SimulatedPaymentProvider', {
        budget: config.budget.simulatedProvider,
        credential: props.paymentProviderCredential,
        logRetention: config.logRetention,
        powertools,
      });
      providerUrl = this.paymentProvider.url;
      new CfnOutput(this, 'SimulatedPaymentProviderUrl', {
        description: 'Simulated payment provider: GET /ledger, POST|DELETE /control/faults',
        value: providerUrl,
      });
    } else {
      // Resolved by CloudFormation at deploy time: synth needs neither credentials nor the value.
      providerUrl =
        config.paymentProvider.url ??
        StringParameter.valueForStringParameter(this, config.paymentProvider.ssmParameterName);
    }
    const payments = new PaymentProviderEndpoint(
      providerUrl,
      config.budget.paymentTimeoutSeconds,
      props.paymentProviderCredential,
    );

    this.saga = new PaymentSaga(this, 'PaymentSaga', {
      ...common,
      stateMachineName: `checkout-${config.stageName}-payment-saga`,
      database,
      payments,
      compensationQueue,
      budget: config.budget,
    });
    this.compensationWorker = new CompensationWorker(this, 'CompensationWorker', {
      ...common,
      queue: compensationQueue,
      database,
      idempotencyTable: props.compensationIdempotency,
      payments,
      budget: config.budget,
    });
    this.sagaStarter = new SagaStarter(this, 'SagaStarter', {
      ...common,
      queue: sagaStartQueue,
      database,
      sagaAlias: this.saga.live,
      budget: config.budget,
    });
    this.sweeper = new OrderSweeper(this, 'OrderSweeper', {
      ...common,
      database,
      sagaAlias: this.saga.live,
      stateMachineName: this.saga.stateMachineName,
      compensationQueue,
      payments,
      budget: config.budget.sweeper,
    });
    this.outboxRelay = new OutboxRelay(this, 'OutboxRelay', {
      ...common,
      database,
      eventBus: props.eventBus,
      budget: config.budget.outboxRelay,
    });

    this.apiHandlers = new ApiHandlers(this, 'ApiHandlers', {
      ...common,
      routes: API_ROUTES,
      database,
      idempotencyTable: props.apiIdempotency,
      customerLimitsTable: props.customerLimits,
      customerLimits: config.customerLimits,
      stateMachine: this.saga.stateMachine,
      sagaAlias: this.saga.live,
      sagaStartQueue,
      stateMachineName: this.saga.stateMachineName,
      compensationQueue,
      operatorControls: props.operatorControls,
      payments,
      budget: config.budget.api,
    });
    this.api = new CheckoutApi(this, 'Api', {
      routes: API_ROUTES,
      // Each method invokes its function's `live` alias.
      handlers: new Map(
        [...this.apiHandlers.functions].map(([operationId, fn]) => [operationId, liveAlias(fn)]),
      ),
      userPool: props.userPool,
      stageName: config.stageName,
      throttle: config.apiThrottle,
      // The smoke test's own key: its calls count against no customer app's.
      apiClients: config.smokeTest ? [...config.apiClients, SMOKE_TEST_API_CLIENT] : config.apiClients,
      logRetention: config.logRetention,
      policy: apiAccessPolicy(this, API_ROUTES, config.adminPrincipals),
    });
    new ApiFirewall(this, 'ApiFirewall', {
      stage: this.api.api.deploymentStage,
      requestsPerIpPerMinute: config.firewallLimits.requestsPerIpPerMinute,
      // The customer's own limits, in front of everything shared (docs/runbooks/customer-rate-limits.md).
      requestsPerTokenPerMinute: config.customerLimits.requestsPerMinute,
      checkoutsPerTokenPerMinute: config.customerLimits.checkoutsPerMinute,
      checkoutPath: API_ROUTES.find((route) => route.operationId === 'placeOrder')?.path ?? '/v1/checkout',
    });

    // The simulated provider is a test double: its throttles (reserved concurrency 1) are expected.
    const watched = new Map<string, IFunction>([
      ...[...this.apiHandlers.functions].map(([operationId, fn]) => [operationId, fn.function] as const),
      ...[...this.saga.functions].map(([stateName, fn]) => [stateName, fn.function] as const),
      ['CompensationWorker', this.compensationWorker.handler.function],
      ['SagaStarter', this.sagaStarter.handler.function],
      ['OrderSweeper', this.sweeper.job.handler.function],
      ['OutboxRelay', this.outboxRelay.job.handler.function],
    ]);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: props.opsTopic,
      apiStage: this.api.api.deploymentStage,
      apiAccessLogs: this.api.accessLogs,
      accountConcurrency: config.budget.accountConcurrency,
      stateMachine: this.saga.stateMachine,
      compensationQueue: compensationQueue.queue,
      deadLetterQueue: compensationQueue.deadLetterQueue,
      sagaStartQueue: sagaStartQueue.queue,
      sagaStartDeadLetterQueue: sagaStartQueue.deadLetterQueue,
      deadLetterQueueConsoleUrl: props.deadLetterQueueConsoleUrl,
      functions: watched,
      proxy: database.proxy,
      database: database.instance,
      metricsNamespace: powertools.metricsNamespace,
      serviceName: powertools.serviceName,
    });

    this.jobAlarms = new JobAlarms(this, 'JobAlarms', {
      topic: props.opsTopic,
      database: database.instance,
      jobs: new Map([
        ['OrderSweeper', this.sweeper.job],
        ['OutboxRelay', this.outboxRelay.job],
      ]),
    });
    // Safe delivery (docs/deploy.md): every traffic-serving function and the saga roll out gradually
    // and roll back on these alarms. The simulated provider and the migration runner serve no traffic.
    const { api5xxRateAlarm, apiLatencyAlarm, sagaFailuresAlarm } = this.monitoring;
    const rollouts: FunctionRollout[] = [
      ...[...this.apiHandlers.functions].map(([name, handler]) => ({
        name,
        handler,
        kind: 'request' as const,
        alarms: [api5xxRateAlarm, apiLatencyAlarm],
      })),
      ...[...this.saga.functions].map(([name, handler]) => ({
        name,
        handler,
        kind: 'request' as const,
        alarms: [sagaFailuresAlarm],
      })),
      { name: 'CompensationWorker', handler: this.compensationWorker.handler, kind: 'queue' },
      { name: 'SagaStarter', handler: this.sagaStarter.handler, kind: 'queue' },
      { name: 'OrderSweeper', handler: this.sweeper.job.handler, kind: 'schedule' },
      { name: 'OutboxRelay', handler: this.outboxRelay.job.handler, kind: 'schedule' },
    ];
    this.deployments = new CanaryDeployments(this, 'Deployments', { rollouts, topic: props.opsTopic });
    this.saga.live.addAlarm(sagaFailuresAlarm);

    new CfnOutput(this, 'ApiUrl', { description: 'Checkout API base URL', value: this.api.api.url });
    new CfnOutput(this, 'PaymentSagaArn', { value: this.saga.stateMachine.stateMachineArn });
    new CfnOutput(this, 'PaymentSagaAliasArn', {
      description: 'Where executions start (the live alias of the payment saga)',
      value: this.saga.live.aliasArn,
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    // What the kill switches of npm run ops turn off and on (docs/adr/0024).
    new CfnOutput(this, 'CompensationWorkerMappingId', {
      description: "The compensation worker's event source mapping: npm run ops -- switch worker off|on",
      value: this.compensationWorker.eventSourceMappingId,
    });
    new CfnOutput(this, 'JobScheduleNames', {
      description: 'The sweeper and outbox relay schedules: npm run ops -- switch jobs off|on',
      value: [this.sweeper.job.schedule.scheduleName, this.outboxRelay.job.schedule.scheduleName].join(','),
    });
    const smokeTestKey = this.api.apiKeys.get(SMOKE_TEST_API_CLIENT);
    if (smokeTestKey) {
      new CfnOutput(this, 'SmokeTestApiKeyId', {
        description: 'API key of npm run smoke (read its value with apigateway:GetApiKey)',
        value: smokeTestKey.keyId,
      });
    }
  }
}
