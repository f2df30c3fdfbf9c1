import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import * as config from '../../src/config/variables.js';
import { setEnvironment } from './function-environment.js';

/** The attribute Powertools writes the record's expiry (epoch seconds) to; DynamoDB TTL sweeps on it. */
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiration';

/** Exactly the calls the Powertools DynamoDB persistence layer makes. */
export const IDEMPOTENCY_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;

export interface IdempotencyTableProps {
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * A DynamoDB table shaped for Powertools idempotency: partition key `id`, TTL on `expiration`,
 * point-in-time recovery, on-demand capacity.
 */
export class IdempotencyTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: IdempotencyTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'id', type: AttributeType.STRING },
      timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
  }

  /** Sets `IDEMPOTENCY_TABLE_NAME` and grants the four item calls Powertools makes, nothing more. */
  grantIdempotency(fn: LambdaFunction): void {
    setEnvironment(fn, config.idempotency, { tableName: this.table.tableName });
    this.table.grant(fn, ...IDEMPOTENCY_ACTIONS);
  }

  /**
   * Sets `IDEMPOTENCY_TABLE_NAME` and grants `dynamodb:DescribeTable` only: the readiness check
   * asks whether the table is active and can read no record of any customer.
   */
  grantReadinessProbe(fn: LambdaFunction): void {
    setEnvironment(fn, config.idempotency, { tableName: this.table.tableName });
    this.table.grant(fn, 'dynamodb:DescribeTable');
  }
}
