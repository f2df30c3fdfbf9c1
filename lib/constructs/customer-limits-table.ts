import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  type CustomerLimits,
  LIMITS_KEY_ATTRIBUTE,
  LIMITS_TTL_ATTRIBUTE,
} from '../../src/api/customer-limits.js';
import * as config from '../../src/config/variables.js';
import { acknowledgeControl } from '../policy-validation.js';
import { setEnvironment } from './function-environment.js';

export interface CustomerLimitsTableProps {
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * The per-customer request counters of `src/api/customer-limits.ts`: one item per customer and
 * minute, swept by TTL. Counters are worth one minute, so there is no point-in-time recovery and
 * nothing to retain.
 */
export class CustomerLimitsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: CustomerLimitsTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: LIMITS_KEY_ATTRIBUTE, type: AttributeType.STRING },
      timeToLiveAttribute: LIMITS_TTL_ATTRIBUTE,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    const nothingToRecover =
      'Rate-limit counters of the current minute, deleted by TTL one minute later: there is nothing to ' +
      'recover to a point in time.';
    Validations.of(this.table).acknowledge({ id: 'AwsSolutions-DDB3', reason: nothingToRecover });
    acknowledgeControl(this.table, 'CT.DYNAMODB.PR.1', nothingToRecover);
  }

  /**
   * Makes a function enforce `limits`: sets `CUSTOMER_LIMITS_TABLE_NAME` and the
   * `CUSTOMER_*_PER_MINUTE` variables it reads, and grants `dynamodb:UpdateItem` (the one call a
   * request makes) and nothing else.
   */
  grantLimits(fn: LambdaFunction, limits: CustomerLimits): void {
    setEnvironment(fn, config.customerLimits, {
      tableName: this.table.tableName,
      requestsPerMinute: limits.requestsPerMinute,
      checkoutsPerMinute: limits.checkoutsPerMinute,
    });
    this.table.grant(fn, 'dynamodb:UpdateItem');
  }
}
