import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as config from '../../src/config/variables.js';
import { setEnvironment } from './function-environment.js';

export interface SagaStartQueueProps {
  /**
   * Timeout of the function consuming the queue (the saga starter). The visibility timeout is six
   * times this, as AWS recommends for Lambda event sources; it only decides how soon a message
   * whose starter died is seen again (a start that is merely throttled is handed back within seconds).
   */
  readonly consumerTimeout: Duration;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Receives before a message moves to the dead-letter queue. Each receive retries its start for
   * most of an invocation, so 20 receives are minutes of throttling, about what the sweeper waits
   * before it starts a stuck order's saga itself.
   * @default 20
   */
  readonly maxReceiveCount?: number;
  /** @default Duration.days(4) */
  readonly retentionPeriod?: Duration;
  /** Must outlive the source queue's retention. @default Duration.days(14) */
  readonly deadLetterRetentionPeriod?: Duration;
  /**
   * How long one StartExecution call may take, for every function that starts sagas through this
   * queue's configuration group (`SAGA_START_TIMEOUT_MS`). @default Duration.seconds(1)
   */
  readonly startAttemptTimeout?: Duration;
}

/**
 * The saga-start queue (docs/adr/0019) and its dead-letter queue, both encrypted and TLS-only:
 * where checkout leaves a saga start that failed or was throttled, for the saga starter to make at
 * a rate the Step Functions quota allows.
 */
export class SagaStartQueue extends Construct {
  static readonly VISIBILITY_TO_TIMEOUT_RATIO = 6;

  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly maxReceiveCount: number;
  readonly startAttemptTimeout: Duration;

  constructor(scope: Construct, id: string, props: SagaStartQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 20;
    this.startAttemptTimeout = props.startAttemptTimeout ?? Duration.seconds(1);
    const retentionPeriod = props.retentionPeriod ?? Duration.days(4);
    const deadLetterRetentionPeriod = props.deadLetterRetentionPeriod ?? Duration.days(14);
    if (deadLetterRetentionPeriod.toSeconds() <= retentionPeriod.toSeconds()) {
      throw new Error(
        `deadLetterRetentionPeriod (${deadLetterRetentionPeriod.toHumanString()}) must be longer than ` +
          `retentionPeriod (${retentionPeriod.toHumanString()})`,
      );
    }
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      throw new Error(`maxReceiveCount must be a positive integer, got ${this.maxReceiveCount}`);
    }

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: deadLetterRetentionPeriod,
      removalPolicy: props.removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod,
      visibilityTimeout: Duration.seconds(
        props.consumerTimeout.toSeconds() * SagaStartQueue.VISIBILITY_TO_TIMEOUT_RATIO,
      ),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
      removalPolicy: props.removalPolicy,
    });
  }

  /** Sets the `sagaStart` group (queue URL, attempt timeout) on a function that starts sagas through it. */
  bindStartSettings(fn: LambdaFunction): void {
    setEnvironment(fn, config.sagaStart, {
      queueUrl: this.queue.queueUrl,
      timeoutMs: this.startAttemptTimeout.toMilliseconds(),
    });
  }

  /** Lets a function hand saga starts to the queue: its settings, and `sqs:SendMessage` on it only. */
  bindSender(fn: LambdaFunction): void {
    this.bindStartSettings(fn);
    this.queue.grant(fn, 'sqs:SendMessage');
  }
}
