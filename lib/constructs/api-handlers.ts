import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CustomerLimits } from '../../src/api/customer-limits.js';
import type { ApiRoute } from '../../src/api/routes.js';
import type { FunctionBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { CustomerLimitsTable } from './customer-limits-table.js';
import type { CheckoutDatabase } from './database.js';
import { setEnvironment } from './function-environment.js';
import type { IdempotencyTable } from './idempotency-table.js';
import type { OperatorControlsTable } from './operator-controls-table.js';
import type { PaymentProviderEndpoint } from './payment-provider.js';
import { grantDescribeSagaExecutions } from './payment-saga.js';
import type { SagaStartQueue } from './saga-start-queue.js';
import type { StateMachineLiveAlias } from './state-machine-alias.js';

/** What a route's handler module reads at runtime (see `src/roots/api.ts` and `src/config/functions.ts`). */
type RouteDependency =
  /** The pool (`DB_*`): rds-db:connect through the proxy. */
  | 'database'
  /** Powertools idempotency records: get, put, update, delete. */
  | 'idempotency'
  /** The readiness probe: DescribeTable on the idempotency table, no item access. */
  | 'idempotencyProbe'
  /** The customer's requests per minute: one UpdateItem on the limits table. */
  | 'requestLimit'
  /** The customer's requests and checkouts per minute: one UpdateItem on the limits table. */
  | 'checkoutLimit'
  /** `STATE_MACHINE_ARN`, the saga's `live` alias: states:StartExecution through it. */
  | 'startSaga'
  /** `SAGA_START_QUEUE_URL`: sqs:SendMessage on the saga-start queue, where a failed start goes. */
  | 'sagaStartQueue'
  /** `PAYMENT_PROVIDER_URL`: readiness reports the payment breaker. */
  | 'payments'
  /** `STATE_MACHINE_ARN`: states:DescribeExecution on the saga's executions (the admin order view). */
  | 'describeSaga'
  /** `COMPENSATION_QUEUE_URL`: sqs:SendMessage on the compensation queue (an operator's retry). */
  | 'compensationQueue'
  /** `OPERATOR_CONTROLS_TABLE_NAME`: one Query on the switches' partition (the checkout kill switch). */
  | 'checkoutSwitch';

/**
 * Per operation id, exactly what its handler uses. A route added to the table without an entry
 * here fails the synth, so nobody ships a function with guessed permissions.
 */
const ROUTE_DEPENDENCIES: Readonly<Record<string, readonly RouteDependency[]>> = {
  placeOrder: ['checkoutSwitch', 'checkoutLimit', 'database', 'idempotency', 'startSaga', 'sagaStartQueue'],
  getOrder: ['requestLimit', 'database'],
  getLiveness: [],
  getReadiness: ['database', 'idempotencyProbe', 'payments'],
  putProduct: ['database'],
  getProduct: ['database'],
  putWallet: ['database'],
  getWallet: ['database'],
  listCompensations: ['database'],
  retryCompensation: ['database', 'compensationQueue'],
  getAdminOrder: ['database', 'describeSaga'],
};

export interface ApiHandlersProps {
  /** The route table (`src/api/routes.ts`). */
  readonly routes: readonly ApiRoute[];
  readonly database: CheckoutDatabase;
  readonly idempotencyTable: IdempotencyTable;
  /** Where the customer routes count each customer's requests. */
  readonly customerLimitsTable: CustomerLimitsTable;
  /** The limits per customer and minute (stage config). */
  readonly customerLimits: Required<CustomerLimits>;
  /** The saga's own ARN, for the routes that only describe its executions. */
  readonly stateMachine: IStateMachine;
  /** The alias saga executions start through. */
  readonly sagaAlias: StateMachineLiveAlias;
  /** Where checkout hands a saga start that failed or was throttled (docs/adr/0019). */
  readonly sagaStartQueue: SagaStartQueue;
  /** The state machine's name (a literal), for the execution ARNs the admin order view describes. */
  readonly stateMachineName: string;
  /** Where an operator's compensation retry is queued. */
  readonly compensationQueue: CompensationQueue;
  /** The operators' switches, checkout's kill switch among them. */
  readonly operatorControls: OperatorControlsTable;
  readonly payments: PaymentProviderEndpoint;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /** Each route's line of the budget, by operation id (docs/adr/0020). */
  readonly budget: Readonly<Record<string, FunctionBudget>>;
}

/**
 * One function per API route (the route table's entry and handler export), each granted only
 * what its handler reads. Every one runs in the VPC (Control Tower CT.LAMBDA.PR.3, which an account
 * enforcing it checks at deploy time); those that use the database in the group the proxy admits,
 * the others (liveness) in a group of their own.
 */
export class ApiHandlers extends Construct {
  /** The function of each route, by operation id. */
  readonly functions: ReadonlyMap<string, CheckoutFunction>;

  constructor(scope: Construct, id: string, props: ApiHandlersProps) {
    super(scope, id);
    const functions = new Map<string, CheckoutFunction>();
    for (const route of props.routes) {
      const dependencies = ROUTE_DEPENDENCIES[route.operationId];
      if (!dependencies) {
        throw new Error(
          `route ${route.operationId} has no entry in ROUTE_DEPENDENCIES (lib/constructs/api-handlers.ts)`,
        );
      }
      const budget = props.budget[route.operationId];
      if (!budget) {
        throw new Error(`route ${route.operationId} has no line in the budget (src/config/budget.ts, api)`);
      }
      const usesDatabase = dependencies.includes('database');
      const fn = new CheckoutFunction(this, route.operationId, {
        entry: route.entry,
        handler: route.handler,
        description: `${route.method} ${route.path}`,
        budget,
        logRetention: props.logRetention,
        powertools: props.powertools,
        vpc: props.vpc,
        ...(usesDatabase ? { securityGroups: [props.database.clientSecurityGroup] } : {}),
      });
      for (const dependency of dependencies) {
        switch (dependency) {
          case 'database':
            props.database.grantConnect(fn);
            break;
          case 'idempotency':
            props.idempotencyTable.grantIdempotency(fn.function);
            break;
          case 'requestLimit':
            props.customerLimitsTable.grantLimits(fn.function, {
              requestsPerMinute: props.customerLimits.requestsPerMinute,
            });
            break;
          case 'checkoutLimit':
            props.customerLimitsTable.grantLimits(fn.function, props.customerLimits);
            break;
          case 'idempotencyProbe':
            props.idempotencyTable.grantReadinessProbe(fn.function);
            break;
          case 'startSaga':
            props.sagaAlias.bindStarter(fn.function);
            break;
          case 'sagaStartQueue':
            props.sagaStartQueue.bindSender(fn.function);
            break;
          case 'payments':
            props.payments.bindWithoutCredential(fn.function);
            break;
          case 'describeSaga':
            setEnvironment(fn.function, config.stateMachine, { arn: props.stateMachine.stateMachineArn });
            grantDescribeSagaExecutions(fn, props.stateMachineName);
            break;
          case 'compensationQueue':
            props.compensationQueue.bindSender(fn.function);
            break;
          case 'checkoutSwitch':
            props.operatorControls.grantSwitchRead(fn.function);
            break;
        }
      }
      functions.set(route.operationId, fn);
    }
    this.functions = functions;
  }
}
