import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  OPERATOR_CONTROLS_KEY,
  OPERATOR_CONTROLS_SORT_KEY,
  SWITCHES_PARTITION,
} from '../../src/api/checkout-switch.js';
import * as config from '../../src/config/variables.js';
import { adminPrincipalArn } from './api-access-policy.js';
import { setEnvironment } from './function-environment.js';

/** Every DynamoDB call that writes items. */
const ITEM_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];

export interface OperatorControlsTableProps {
  /** The stage's operators (role names or principal ARN patterns): the only principals that write. */
  readonly adminPrincipals: readonly string[];
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * The operators' switches and log (docs/adr/0024-operator-console-and-kill-switches.md): partition
 * `switches` holds one item per kill switch (checkout's value, and who changed each switch, when
 * and why), partition `log` one item per operator action that concerns no single order. Operators
 * write it with their own credentials from `npm run ops`; a resource policy denies every item
 * write to anyone else, so no function of the service can forge an operator's record whatever its
 * role is later granted. Point-in-time recovery: it is an audit trail.
 */
export class OperatorControlsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: OperatorControlsTableProps) {
    super(scope, id);
    if (props.adminPrincipals.length === 0) throw new Error('the operator controls need an admin principal');
    const operators = props.adminPrincipals.map((principal) => adminPrincipalArn(this, principal));
    this.table = new Table(this, 'Table', {
      partitionKey: { name: OPERATOR_CONTROLS_KEY, type: AttributeType.STRING },
      sortKey: { name: OPERATOR_CONTROLS_SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      resourcePolicy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'OnlyOperatorsWrite',
            effect: Effect.DENY,
            principals: [new AnyPrincipal()],
            actions: ITEM_WRITES,
            resources: ['*'],
            conditions: { ArnNotLike: { 'aws:PrincipalArn': operators } },
          }),
        ],
      }),
    });
  }

  /**
   * Lets checkout read its switch: sets `OPERATOR_CONTROLS_TABLE_NAME` and grants `dynamodb:Query`
   * on the switches' partition only (the one call Powertools Parameters' `getMultiple` makes).
   */
  grantSwitchRead(fn: LambdaFunction): void {
    setEnvironment(fn, config.operatorControls, { tableName: this.table.tableName });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [SWITCHES_PARTITION] } },
      }),
    );
  }
}
