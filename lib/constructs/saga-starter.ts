import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { TimeAndCapacityBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import type { CheckoutDatabase } from './database.js';
import { setEnvironment } from './function-environment.js';
import { liveAlias } from './live-alias.js';
import type { SagaStartQueue } from './saga-start-queue.js';
import type { StateMachineLiveAlias } from './state-machine-alias.js';

export interface SagaStarterProps {
  readonly queue: SagaStartQueue;
  readonly database: CheckoutDatabase;
  /** The alias executions start through: its `states:StartExecution` is the only one granted. */
  readonly sagaAlias: StateMachineLiveAlias;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /**
   * The budget (docs/adr/0020): the starter's line (timeout: one start and the hand-back margin,
   * since it works to a deadline; pool; reservation) and its event source's batch size, maximum
   * concurrency and starts per second per container, which together bound the buffer's share of
   * the account's StartExecution quota (a third of the 300/s refill in the large regions), so it
   * drains a backlog within seconds and leaves most of the quota to checkouts that start their saga
   * directly.
   */
  readonly budget: Pick<TimeAndCapacityBudget, 'sagaStarter' | 'sagaStartQueue'>;
}

/**
 * The saga starter (docs/adr/0019): drains the saga-start queue through an SQS event source with
 * partial batch failures, starting each order's saga through the saga's `live` alias at a bounded
 * rate. It leases the order in the database first (the sweeper's lease), so it runs in the VPC.
 */
export class SagaStarter extends Construct {
  readonly handler: CheckoutFunction;

  constructor(scope: Construct, id: string, props: SagaStarterProps) {
    super(scope, id);
    const { maxConcurrency, startsPerSecond, batchSize } = props.budget.sagaStartQueue;
    if (!Number.isInteger(startsPerSecond) || startsPerSecond < 1) {
      throw new Error(`startsPerSecond must be a positive integer, got ${startsPerSecond}`);
    }
    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'lambdas/workers/saga-starter.ts',
      description: 'Starts the payment sagas queued when StartExecution failed or was throttled',
      budget: props.budget.sagaStarter,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
    });
    const fn = this.handler.function;
    props.database.grantConnect(this.handler);
    props.sagaAlias.bindStarter(fn);
    props.queue.bindStartSettings(fn);
    setEnvironment(fn, config.sagaStarter, { startsPerSecond });
    // The event source mapping invokes the `live` alias, so a deploy shifts the batches gradually;
    // it grants the consume (receive, delete, change visibility) on this queue only.
    liveAlias(this.handler).addEventSource(
      new SqsEventSource(props.queue.queue, {
        batchSize,
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
  }
}
