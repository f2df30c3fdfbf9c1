import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import type { StageConfig } from './config.js';
import type { PowertoolsSettings } from './constructs/checkout-function.js';
import { CompensationQueue } from './constructs/compensation-queue.js';
import { CustomerIdentity } from './constructs/customer-identity.js';
import { CustomerLimitsTable } from './constructs/customer-limits-table.js';
import { CheckoutDatabase } from './constructs/database.js';
import { IdempotencyTable } from './constructs/idempotency-table.js';
import { Network } from './constructs/network.js';
import { OperatorControlsTable } from './constructs/operator-controls-table.js';
import { OpsTopic } from './constructs/ops-topic.js';
import { PaymentProviderCredential } from './constructs/payment-provider.js';
import { SagaStartQueue } from './constructs/saga-start-queue.js';
import { SchemaMigrations } from './constructs/schema-migrations.js';

export interface StatefulStackProps extends StackProps {
  readonly config: StageConfig;
  readonly powertools: PowertoolsSettings;
  /** The zones the VPC spans, `config.maxAzs` of them (`availabilityZonesOf` in lib/config.ts). */
  readonly availabilityZones: readonly string[];
}

/**
 * Everything that holds data or identity and must survive a redeploy of the code: the network,
 * the database with its proxy and schema, the idempotency tables, the compensation and saga-start
 * queues, the
 * customer user pool and the ops topic. Retained and deletion-protected in production.
 */
export class StatefulStack extends Stack {
  readonly network: Network;
  readonly database: CheckoutDatabase;
  readonly migrations: SchemaMigrations;
  /** Idempotency records of the API's write endpoints (checkout). */
  readonly apiIdempotency: IdempotencyTable;
  /** Idempotency records of the compensation worker, keyed on `compensationId`. */
  readonly compensationIdempotency: IdempotencyTable;
  readonly compensationQueue: CompensationQueue;
  /** Saga starts that failed or were throttled, waiting for the saga starter (docs/adr/0019). */
  readonly sagaStartQueue: SagaStartQueue;
  /** Per-customer request counters of the API (one item per customer and minute). */
  readonly customerLimits: CustomerLimitsTable;
  /** The operators' kill switches and log (docs/adr/0024). */
  readonly operatorControls: OperatorControlsTable;
  readonly identity: CustomerIdentity;
  readonly opsTopic: OpsTopic;
  /** The payment provider's API key. */
  readonly paymentProviderCredential: PaymentProviderCredential;
  /** Where the outbox relay publishes the order events (outbox_events, docs/adr/0010). */
  readonly eventBus: EventBus;
  /** The DLQ in the SQS console, where operators start a redrive. */
  readonly deadLetterQueueConsoleUrl: string;

  private readonly zones: readonly string[];

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.zones = props.availabilityZones;
    const retained = { removalPolicy: config.removalPolicy, deletionProtection: config.deletionProtection };

    this.network = new Network(this, 'Network', {
      maxAzs: this.zones.length,
      natGateways: config.natGateways,
      flowLogRetention: config.logRetention,
    });
    const { vpc } = this.network;

    this.database = new CheckoutDatabase(this, 'Database', {
      vpc,
      instanceIdentifier: `checkout-${config.stageName}`,
      instanceType: config.databaseInstanceType,
      multiAz: config.multiAz,
      allocatedStorageGiB: config.databaseAllocatedStorageGiB,
      maxAllocatedStorageGiB: config.databaseMaxAllocatedStorageGiB,
      backupRetention: config.databaseBackupRetention,
      secretRotation: config.secretRotation,
      logRetention: config.logRetention,
      budget: config.budget.database,
      detailedMonitoring: config.production,
      ...retained,
    });
    this.migrations = new SchemaMigrations(this, 'SchemaMigrations', {
      database: this.database,
      vpc,
      logRetention: config.logRetention,
      powertools: props.powertools,
      budget: config.budget.schemaMigrations,
    });

    // The first rotation logs in as the role: only once the migrations created it and set its password.
    this.database.applicationSecretRotation.node.addDependency(this.migrations.resource);

    this.apiIdempotency = new IdempotencyTable(this, 'ApiIdempotency', retained);
    this.compensationIdempotency = new IdempotencyTable(this, 'CompensationIdempotency', retained);
    this.customerLimits = new CustomerLimitsTable(this, 'CustomerLimits', retained);
    this.operatorControls = new OperatorControlsTable(this, 'OperatorControls', {
      ...retained,
      adminPrincipals: config.adminPrincipals,
    });
    this.compensationQueue = new CompensationQueue(this, 'CompensationQueue', {
      queueName: `checkout-${config.stageName}-compensations`,
      budget: config.budget,
      removalPolicy: config.removalPolicy,
    });
    this.sagaStartQueue = new SagaStartQueue(this, 'SagaStartQueue', {
      queueName: `checkout-${config.stageName}-saga-starts`,
      budget: config.budget,
      removalPolicy: config.removalPolicy,
    });
    this.identity = new CustomerIdentity(this, 'CustomerIdentity', {
      ...retained,
      threatProtection: config.production,
      smokeTestClient: config.smokeTest === true,
    });
    this.paymentProviderCredential = new PaymentProviderCredential(this, 'PaymentProviderCredential', {
      removalPolicy: config.removalPolicy,
    });
    this.opsTopic = new OpsTopic(this, 'OpsTopic', {
      removalPolicy: config.removalPolicy,
      ...(config.opsEmail ? { email: config.opsEmail } : {}),
    });

    this.eventBus = new EventBus(this, 'EventBus', {
      // Named per stage: two stages may share an account and region.
      eventBusName: `checkout-${config.stageName}-events`,
      description: `Checkout ${config.stageName} order events, published from the outbox`,
    });

    const dlq = this.compensationQueue.deadLetterQueue;
    this.deadLetterQueueConsoleUrl = `https://${this.region}.console.aws.amazon.com/sqs/v3/home?region=${this.region}#/queues/https%3A%2F%2Fsqs.${this.region}.amazonaws.com%2F${this.account}%2F${dlq.queueName}`;
    new CfnOutput(this, 'CompensationDlqConsoleUrl', {
      description:
        'The compensation DLQ in the SQS console: inspect messages and "Start DLQ redrive" from here',
      value: this.deadLetterQueueConsoleUrl,
    });
    // The CLI redrive of docs/runbooks/dlq-redrive.md needs both ARNs.
    new CfnOutput(this, 'CompensationQueueArn', { value: this.compensationQueue.queue.queueArn });
    new CfnOutput(this, 'CompensationDlqArn', { value: dlq.queueArn });
    new CfnOutput(this, 'SagaStartQueueArn', { value: this.sagaStartQueue.queue.queueArn });
    new CfnOutput(this, 'SagaStartDlqArn', { value: this.sagaStartQueue.deadLetterQueue.queueArn });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });
    new CfnOutput(this, 'OperatorControlsTableName', {
      description: 'Kill switches and the operator log: npm run ops -- switch ... writes it',
      value: this.operatorControls.table.tableName,
    });
    new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.identity.appClient.userPoolClientId });
    if (this.identity.smokeTestClient) {
      new CfnOutput(this, 'SmokeTestClientId', {
        description: 'Cognito app client of npm run smoke (admin sign-in only)',
        value: this.identity.smokeTestClient.userPoolClientId,
      });
    }
    new CfnOutput(this, 'PaymentProviderSecretArn', {
      description: 'The payment provider API key: put the external provider key here (docs/deploy.md)',
      value: this.paymentProviderCredential.secret.secretArn,
    });
    new CfnOutput(this, 'OpsTopicArn', { value: this.opsTopic.topic.topicArn });
  }

  /**
   * The stage's zones instead of CDK's lookup, which a concrete account would need credentials for
   * at synth time (the override point CDK documents for `Stack.availabilityZones`).
   */
  override get availabilityZones(): string[] {
    return [...this.zones];
  }
}
