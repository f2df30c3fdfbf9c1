import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { TimeAndCapacityBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import type { CompensationQueue } from './compensation-queue.js';
import type { CheckoutDatabase } from './database.js';
import { setEnvironment } from './function-environment.js';
import type { IdempotencyTable } from './idempotency-table.js';
import { liveAlias } from './live-alias.js';
import type { PaymentProviderEndpoint } from './payment-provider.js';

export interface CompensationWorkerProps {
  readonly queue: CompensationQueue;
  readonly database: CheckoutDatabase;
  readonly idempotencyTable: IdempotencyTable;
  readonly payments: PaymentProviderEndpoint;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
  /**
   * The budget (docs/adr/0020): the worker's line (timeout, pool, reservation) and the queue's
   * batch size and maximum concurrency, which bound its share of proxy connections and provider calls.
   */
  readonly budget: TimeAndCapacityBudget;
}

/**
 * The compensation worker (docs/adr/0002): consumes the compensation queue with partial batch
 * failures, so one failing compensation is retried alone; after `maxReceiveCount` receives SQS
 * moves it to the dead-letter queue.
 */
export class CompensationWorker extends Construct {
  readonly handler: CheckoutFunction;
  /** Its event source mapping's id: the worker's kill switch disables it (docs/adr/0024). */
  readonly eventSourceMappingId: string;

  constructor(scope: Construct, id: string, props: CompensationWorkerProps) {
    super(scope, id);
    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'lambdas/workers/compensation-worker.ts',
      description: 'Retries failed saga compensations from the compensation queue',
      budget: props.budget.compensationWorker,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
    });
    const fn = this.handler.function;
    setEnvironment(fn, config.compensationWorker, { maxReceiveCount: props.queue.maxReceiveCount });
    setEnvironment(fn, config.compensationQueue, { url: props.queue.queue.queueUrl });
    // A last attempt that cannot record its failure queues the compensation again (never the DLQ unrecorded).
    props.queue.queue.grantSendMessages(fn);
    props.database.grantConnect(this.handler);
    props.idempotencyTable.grantIdempotency(fn);
    props.payments.bind(this.handler);
    // The event source mapping invokes the `live` alias, so a deploy shifts the batches gradually.
    const source = new SqsEventSource(props.queue.queue, {
      batchSize: props.budget.compensationQueue.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.budget.compensationQueue.maxConcurrency,
    });
    liveAlias(this.handler).addEventSource(source);
    this.eventSourceMappingId = source.eventSourceMappingId;
  }
}
