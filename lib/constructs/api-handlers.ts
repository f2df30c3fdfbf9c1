import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CustomerLimits } from '../../src/api/customer-limits.js';
import type { ApiRoute } from '../../src/api/routes.js';
import type { FunctionBudget } from '../../src/config/budget.js';
import type { ConfigGroup } from '../../src/config/declarations.js';
import { accessOf, needsOf } from '../../src/config/functions.js';
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
      const needs = needsOf(route.entry, route.handler);
      if (!needs) {
        throw new Error(
          `route ${route.operationId} (${route.entry}#${route.handler}) declares no needs in src/config/functions.ts`,
        );
      }
      const budget = props.budget[route.operationId];
      if (!budget) {
        throw new Error(`route ${route.operationId} has no line in the budget (src/config/budget.ts, api)`);
      }
      const usesDatabase = needs.some((need) => need.key === config.database.key);
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
      for (const need of needs) this.grant(fn, need, props, route.operationId);
      functions.set(route.operationId, fn);
    }
    this.functions = functions;
  }

  /**
   * Binds a function to the resource behind one group it reads: the group's variables and the
   * grant, as much as its access says (`limitedTo` in src/config/functions.ts). A group with no
   * binding here fails the synth, so nobody ships a function with guessed permissions.
   */
  private grant(fn: CheckoutFunction, need: ConfigGroup, props: ApiHandlersProps, operationId: string): void {
    const access = accessOf(need);
    switch (need.key) {
      case config.database.key:
        props.database.grantConnect(fn);
        return;
      case config.idempotency.key:
        if (access === 'probe') props.idempotencyTable.grantReadinessProbe(fn.function);
        else props.idempotencyTable.grantIdempotency(fn.function);
        return;
      case config.customerLimits.key:
        props.customerLimitsTable.grantLimits(
          fn.function,
          access === 'checkouts'
            ? props.customerLimits
            : { requestsPerMinute: props.customerLimits.requestsPerMinute },
        );
        return;
      case config.stateMachine.key:
        if (access === 'start') {
          props.sagaAlias.bindStarter(fn.function);
        } else if (access === 'describe') {
          setEnvironment(fn.function, config.stateMachine, { arn: props.stateMachine.stateMachineArn });
          grantDescribeSagaExecutions(fn, props.stateMachineName);
        } else break;
        return;
      case config.sagaStart.key:
        props.sagaStartQueue.bindSender(fn.function);
        return;
      case config.paymentProvider.key:
        if (access !== 'breakerOnly') break;
        props.payments.bindWithoutCredential(fn.function);
        return;
      case config.compensationQueue.key:
        props.compensationQueue.bindSender(fn.function);
        return;
      case config.operatorControls.key:
        if (access !== 'switches') break;
        props.operatorControls.grantSwitchRead(fn.function);
        return;
    }
    throw new Error(
      `route ${operationId} reads ${need.key}${access ? ` (${access})` : ''}, which no API function is bound to (lib/constructs/api-handlers.ts)`,
    );
  }
}
