import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TimeAndCapacityBudget } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { setEnvironment } from './function-environment.js';

export interface SagaStartQueueProps {
  /**
   * The queue's name, unique in the account and region (the stage in it). Named because the
   * dead-letter queue admits only this queue as a source, by ARN (see `CompensationQueue`).
   */
  readonly queueName: string;
  /**
   * The budget (docs/adr/0020): the starter's timeout, of which the visibility timeout is
   * `visibilityToTimeoutRatio` times (it only decides how soon a message whose starter died is
   * seen again; a start that is merely throttled is handed back within seconds), the retentions
   * and the receives before the dead-letter queue. Each receive retries its start for most of an
   * invocation, so 20 receives are minutes of throttling, about what the sweeper waits before it
   * starts a stuck order's saga itself.
   */
  readonly budget: Pick<TimeAndCapacityBudget, 'sagaStarter' | 'sagaStartQueue'>;
  readonly removalPolicy: RemovalPolicy;
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
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly maxReceiveCount: number;
  readonly startAttemptTimeout: Duration;

  constructor(scope: Construct, id: string, props: SagaStartQueueProps) {
    super(scope, id);
    const { sagaStarter, sagaStartQueue } = props.budget;
    this.maxReceiveCount = sagaStartQueue.maxReceiveCount;
    this.startAttemptTimeout = props.startAttemptTimeout ?? Duration.seconds(1);
    const retentionPeriod = Duration.seconds(sagaStartQueue.retentionSeconds);
    const deadLetterRetentionPeriod = Duration.seconds(sagaStartQueue.deadLetterRetentionSeconds);
    if (deadLetterRetentionPeriod.toSeconds() <= retentionPeriod.toSeconds()) {
      throw new Error(
        `deadLetterRetentionPeriod (${deadLetterRetentionPeriod.toHumanString()}) must be longer than ` +
          `retentionPeriod (${retentionPeriod.toHumanString()})`,
      );
    }
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.queueName)) {
      throw new Error(`queueName must be 1 to 80 letters, digits, - and _, got "${props.queueName}"`);
    }
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      throw new Error(`maxReceiveCount must be a positive integer, got ${this.maxReceiveCount}`);
    }

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: deadLetterRetentionPeriod,
      redriveAllowPolicy: {
        redrivePermission: RedrivePermission.BY_QUEUE,
        sourceQueues: [
          Queue.fromQueueArn(
            this,
            'SourceQueue',
            Stack.of(this).formatArn({ service: 'sqs', resource: props.queueName }),
          ),
        ],
      },
      removalPolicy: props.removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      queueName: props.queueName,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod,
      visibilityTimeout: Duration.seconds(
        sagaStarter.timeoutSeconds * sagaStartQueue.visibilityToTimeoutRatio,
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
