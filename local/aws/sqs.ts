import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { createRequestHandler, createSqsServer } from 'local-aws-sqs';
import { findFreePort } from '../ports.js';
import { countAwsRequests, type UsageMeter } from '../usage.js';
import { closeServer, listen } from './http-server.js';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './local-account.js';

/** An SQS-compatible server (local-aws-sqs) running inside this process. */
export interface LocalSqs {
  /** `http://127.0.0.1:<port>`, for the SDK client's `endpoint`; queue URLs start with it. */
  readonly endpoint: string;
  /** Stops the server, cutting open long polls. Queues live in memory and are lost. */
  close(): Promise<void>;
}

export interface StartLocalSqsOptions {
  /** @default - a free port on 127.0.0.1 */
  readonly port?: number;
  /** Counts every request by operation (`sqs.SendMessage`, ...). @default - not counted */
  readonly usage?: UsageMeter;
  /**
   * The port queue URLs and `endpoint` name, when clients reach this server through a proxy
   * listening there (local/lambda/iam.ts). @default - the server's own port
   */
  readonly advertisedPort?: number;
}

/**
 * Starts local-aws-sqs on 127.0.0.1. It implements redrive policies (a message whose receive
 * count reaches `maxReceiveCount` moves to the DLQ when its visibility timeout expires) and
 * asynchronous `StartMessageMoveTask`. Two behaviours to design tests around: a long poll waits
 * its full `WaitTimeSeconds` unless the batch fills, and a visibility timeout shorter than the
 * wait lets one receive return the same message several times.
 */
export async function startLocalSqs(options: StartLocalSqsOptions = {}): Promise<LocalSqs> {
  const port = options.port ?? (await findFreePort());
  // `hostname` is both the listening address and the host of every queue URL.
  const settings = {
    hostname: '127.0.0.1',
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    // AWS forbids re-creating a deleted queue's name for 60 s; tests and `--fresh` need not wait.
    emulateQueueCreationLifecycle: false,
  };
  let server: Server;
  if (options.advertisedPort === undefined) {
    server = await createSqsServer({ ...settings, port });
  } else {
    // Queue URLs name the port clients use (a proxy's), not the one this server listens on.
    server = createServer(createRequestHandler({ ...settings, port: options.advertisedPort }).requestHandler);
    await listen(server, port, '127.0.0.1');
  }
  if (options.usage) countAwsRequests(server, 'sqs', options.usage);
  return {
    endpoint: `http://127.0.0.1:${options.advertisedPort ?? port}`,
    close: () => closeServer(server),
  };
}

/** An SQS client for the local server: dummy credentials, the local region. */
export function createLocalSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

export interface CreateQueueWithDlqOptions {
  /** Name of the source queue; its DLQ is named `<name>-dlq`. */
  readonly name: string;
  /** Receives before a message moves to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** How long a received message stays hidden from other consumers. */
  readonly visibilityTimeoutSeconds: number;
  /** DLQ retention; keep it longer than the source queue's (4 days by default). @default 1209600 (14 days) */
  readonly dlqRetentionSeconds?: number;
}

export interface QueueWithDlq {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

/**
 * Creates a queue and its dead-letter queue, the source's redrive policy pointing at the DLQ.
 * Creating an existing queue with the same attributes returns it, so this is safe on every start.
 */
export async function createQueueWithDlq(
  client: SQSClient,
  options: CreateQueueWithDlqOptions,
): Promise<QueueWithDlq> {
  const { name, maxReceiveCount = 5, visibilityTimeoutSeconds, dlqRetentionSeconds = 1_209_600 } = options;

  const dlqUrl = await createQueue(client, `${name}-dlq`, {
    MessageRetentionPeriod: String(dlqRetentionSeconds),
  });
  const dlqArn = await getQueueArn(client, dlqUrl);
  const queueUrl = await createQueue(client, name, {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
  });
  const queueArn = await getQueueArn(client, queueUrl);
  return { queueUrl, queueArn, dlqUrl, dlqArn };
}

export interface RedriveDlqOptions {
  readonly dlqArn: string;
  /** Where to move the messages. @default - each message's original source queue */
  readonly sourceArn?: string;
  /** Give up waiting for the move task after this long. @default 60000 */
  readonly timeoutMs?: number;
  /** Told the task's state each time it is polled (ListMessageMoveTasks), as the console shows it. */
  readonly onProgress?: (task: MessageMoveTaskProgress) => void;
  /** Between polls; AWS moves messages in batches over seconds to minutes. @default 200 */
  readonly pollIntervalMs?: number;
}

/** One poll of a message move task. */
export interface MessageMoveTaskProgress {
  readonly status: string;
  readonly moved: number;
  /** Messages in the DLQ when the task started (AWS: ApproximateNumberOfMessagesToMove). */
  readonly toMove?: number;
}

/** Raised when a message move task ends in FAILED or CANCELLED, or does not finish in time. */
export class MessageMoveTaskError extends Error {
  override readonly name = 'MessageMoveTaskError';
}

/**
 * The local twin of the console's "Start DLQ redrive": starts a message move task from the DLQ
 * and resolves, with the number of messages moved, once the task has completed. The moved
 * messages are new messages with new ids (receive counts start again at zero).
 */
export async function redriveDlq(client: SQSClient, options: RedriveDlqOptions): Promise<number> {
  const { dlqArn, sourceArn, timeoutMs = 60_000, onProgress } = options;
  await client.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn, DestinationArn: sourceArn }));

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Tasks are listed newest first and only one can run per DLQ at a time, so the newest is ours.
    const { Results } = await client.send(
      new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 1 }),
    );
    const task = Results?.[0];
    onProgress?.({
      status: task?.Status ?? 'UNKNOWN',
      moved: task?.ApproximateNumberOfMessagesMoved ?? 0,
      ...(task?.ApproximateNumberOfMessagesToMove === undefined
        ? {}
        : { toMove: task.ApproximateNumberOfMessagesToMove }),
    });
    if (task?.Status === 'COMPLETED') return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') {
      throw new MessageMoveTaskError(
        `redrive of ${dlqArn} ended ${task.Status}: ${task.FailureReason ?? 'no reason given'}`,
      );
    }
    if (Date.now() > deadline) {
      throw new MessageMoveTaskError(`redrive of ${dlqArn} still ${task?.Status} after ${timeoutMs} ms`);
    }
    // The local task moves messages once a second; polling faster only adds requests.
    await sleep(options.pollIntervalMs ?? 200);
  }
}

async function createQueue(
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`CreateQueue returned no URL for ${name}`);
  return QueueUrl;
}

/** Messages on a queue, visible and in flight (both approximate, as SQS reports them). */
export async function approximateQueueDepth(client: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** Looks up a queue's ARN, which event sources, redrive policies and move tasks refer to. */
export async function getQueueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes returned no QueueArn for ${queueUrl}`);
  return arn;
}
