import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { compensationVisibilitySeconds, type TimeAndCapacityBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { setEnvironment } from './function-environment.js';

export interface CompensationQueueProps {
  /**
   * The queue's name, unique in the account and region (the stage in it). Named because the
   * dead-letter queue admits only this queue as a source, by ARN: an ARN taken from the queue
   * itself would make the two queues depend on each other.
   */
  readonly queueName: string;
  /**
   * The budget (docs/adr/0020): the visibility timeout is its ratio (six) times the worker's
   * timeout, as AWS recommends for Lambda event sources, so a batch is never visible again while
   * still running; the receives before the DLQ and both retentions (the DLQ's must outlive the
   * source queue's: a moved message keeps its original enqueue time).
   */
  readonly budget: TimeAndCapacityBudget;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The queue of failed compensations (docs/adr/0002) and its dead-letter queue, both encrypted and
 * TLS-only. The dead-letter queue accepts messages from this queue only (its redrive-allow policy).
 * Operators redrive it back to the source queue from the console.
 */
export class CompensationQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: CompensationQueueProps) {
    super(scope, id);
    const queue = props.budget.compensationQueue;
    this.maxReceiveCount = queue.maxReceiveCount;
    const retentionPeriod = Duration.seconds(queue.retentionSeconds);
    const deadLetterRetentionPeriod = Duration.seconds(queue.deadLetterRetentionSeconds);
    if (deadLetterRetentionPeriod.toSeconds() <= retentionPeriod.toSeconds()) {
      throw new Error(
        `deadLetterRetentionPeriod (${deadLetterRetentionPeriod.toHumanString()}) must be longer than ` +
          `retentionPeriod (${retentionPeriod.toHumanString()})`,
      );
    }
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.queueName)) {
      throw new Error(`queueName must be 1 to 80 letters, digits, - and _, got "${props.queueName}"`);
    }
    const visibilityTimeout = Duration.seconds(compensationVisibilitySeconds(props.budget));

    const queueArn = Stack.of(this).formatArn({ service: 'sqs', resource: props.queueName });
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: deadLetterRetentionPeriod,
      redriveAllowPolicy: {
        redrivePermission: RedrivePermission.BY_QUEUE,
        sourceQueues: [Queue.fromQueueArn(this, 'SourceQueue', queueArn)],
      },
      removalPolicy: props.removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod,
      visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
      removalPolicy: props.removalPolicy,
    });
  }

  /** `sqs:SendMessage` on the source queue only (the saga's QueueCompensation state). */
  grantSend(grantee: IGrantable): void {
    this.queue.grant(grantee, 'sqs:SendMessage');
  }

  /** Lets a function queue compensations: sets the queue's URL (`compensationQueue` group) and grants the send. */
  bindSender(fn: LambdaFunction): void {
    setEnvironment(fn, config.compensationQueue, { url: this.queue.queueUrl });
    this.grantSend(fn);
  }
}
