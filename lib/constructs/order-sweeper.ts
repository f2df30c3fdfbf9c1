import { Duration } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import type { JobBudget } from '../../src/config/budget.js';
import type { PowertoolsSettings } from './checkout-function.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { CheckoutDatabase } from './database.js';
import type { PaymentProviderEndpoint } from './payment-provider.js';
import { grantDescribeSagaExecutions } from './payment-saga.js';
import { ScheduledFunction } from './scheduled-function.js';
import type { StateMachineLiveAlias } from './state-machine-alias.js';

export interface OrderSweeperProps {
  readonly database: CheckoutDatabase;
  /** The alias the sweeper starts executions through. */
  readonly sagaAlias: StateMachineLiveAlias;
  /** The state machine's name (a literal), for the execution ARNs the sweeper describes. */
  readonly stateMachineName: string;
  readonly compensationQueue: CompensationQueue;
  readonly payments: PaymentProviderEndpoint;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /** Its line of the budget: timeout inside the lease of the orders it claims, and its period. */
  readonly budget: JobBudget;
}

/**
 * Crash recovery (docs/architecture.md, `lambdas/workers/sweeper.ts`): finds orders stuck in PENDING or
 * AUTHORIZED whose execution is not running, starts or compensates them, releases stale reservations.
 */
export class OrderSweeper extends Construct {
  readonly job: ScheduledFunction;

  constructor(scope: Construct, id: string, props: OrderSweeperProps) {
    super(scope, id);
    this.job = new ScheduledFunction(this, 'Job', {
      entry: 'lambdas/workers/sweeper.ts',
      description: 'Recovers orders whose payment saga never started or died',
      budget: props.budget,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
      schedule: ScheduleExpression.rate(Duration.seconds(props.budget.everySeconds)),
      scheduleDescription: 'Checkout order sweeper',
    });
    const fn = this.job.handler.function;
    props.database.grantConnect(this.job.handler);
    props.payments.bind(this.job.handler);
    props.sagaAlias.bindStarter(fn);
    // Executions started through the alias are executions of the state machine: same ARNs.
    grantDescribeSagaExecutions(this.job.handler, props.stateMachineName);
    props.compensationQueue.bindSender(fn);
  }
}
