import { Duration } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as config from '../../src/config/variables.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import type { CheckoutDatabase } from './database.js';
import { setEnvironment } from './function-environment.js';
import { liveAlias } from './live-alias.js';
import type { SagaStartQueue } from './saga-start-queue.js';
import type { StateMachineLiveAlias } from './state-machine-alias.js';

/**
 * The starter's timeout: one batch of starts, each retried with backoff while the invocation has
 * time (its last 2 s are kept to hand the rest back). The queue's visibility timeout is six times it.
 */
export const SAGA_STARTER_TIMEOUT = Duration.seconds(10);

export interface SagaStarterProps {
  readonly queue: SagaStartQueue;
  readonly database: CheckoutDatabase;
  /** The alias executions start through: its `states:StartExecution` is the only one granted. */
  readonly sagaAlias: StateMachineLiveAlias;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /** @default 10 */
  readonly batchSize?: number;
  /**
   * Concurrent batches (SQS event sources allow 2 to 1,000). With `startsPerSecond` it bounds the
   * buffer's share of the account's StartExecution quota. @default 2
   */
  readonly maxConcurrency?: number;
  /**
   * StartExecution calls per second of one starter container: 2 × 50 = 100/s at most, a third of
   * the 300/s the quota refills in the large regions, so the buffer drains a backlog within
   * seconds and still leaves most of the quota to checkouts that start their saga directly.
   * @default 50
   */
  readonly startsPerSecond?: number;
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
    const maxConcurrency = props.maxConcurrency ?? 2;
    const startsPerSecond = props.startsPerSecond ?? 50;
    if (!Number.isInteger(startsPerSecond) || startsPerSecond < 1) {
      throw new Error(`startsPerSecond must be a positive integer, got ${startsPerSecond}`);
    }
    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'lambdas/workers/saga-starter.ts',
      description: 'Starts the payment sagas queued when StartExecution failed or was throttled',
      timeout: SAGA_STARTER_TIMEOUT,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
    });
    const fn = this.handler.function;
    props.database.grantConnect(fn);
    props.sagaAlias.bindStarter(fn);
    props.queue.bindStartSettings(fn);
    setEnvironment(fn, config.sagaStarter, { startsPerSecond });
    // The event source mapping invokes the `live` alias, so a deploy shifts the batches gradually;
    // it grants the consume (receive, delete, change visibility) on this queue only.
    liveAlias(this.handler).addEventSource(
      new SqsEventSource(props.queue.queue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
  }
}
