import { pathToFileURL } from 'node:url';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import {
  COMPENSATION_QUEUE_URL_SUBSTITUTION,
  PAYMENT_SAGA_DEFINITION_FILE,
  paymentSagaTasks,
  sagaTaskEntryFile,
} from '../lib/saga-tasks.js';
import { createLambdaContext } from './aws/lambda-context.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws/local-account.js';
import { createLocalStateMachine, type LocalStateMachine, type TaskHandler } from './aws/step-functions.js';
import type { UsageMeter } from './usage.js';

type LambdaHandler = (event: never, context: Context) => Promise<unknown>;

/**
 * The Lambda handler of each Task state, by state name: the tasks the ASL file defines (as CDK reads
 * them), each served by the module AWS runs, `lambdas/saga/<kebab-case state name>.ts`.
 */
export async function loadSagaTaskHandlers(): Promise<ReadonlyMap<string, LambdaHandler>> {
  const handlers = new Map<string, LambdaHandler>();
  for (const task of paymentSagaTasks()) {
    const file = sagaTaskEntryFile(task);
    const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
    if (typeof module.handler !== 'function') {
      throw new Error(`${task.entry} (Task state ${task.stateName}) exports no handler function`);
    }
    handlers.set(task.stateName, module.handler as LambdaHandler);
  }
  return handlers;
}

export interface LocalPaymentSagaOptions {
  readonly sqsClient: SQSClient;
  readonly compensationQueueUrl: string;
  /** Shrinks every Retry interval (60 s capture backoff and all): 0.001 turns a minute into 60 ms. */
  readonly retryIntervalScale: number;
  /**
   * Shrinks the retries of infrastructure errors (the database away, Lambda's own failures) instead.
   * They are compressed less: a local PostgreSQL restart takes real seconds, not compressed ones,
   * and the saga must outlast it here as it outlasts an RDS failover in AWS (about 4.5 minutes of
   * jittered retries on average; 0.1 makes that about 28 s).
   * @default INFRASTRUCTURE_RETRY_SCALE
   */
  readonly infrastructureRetryScale?: number;
  /** Counts transitions and each task function's invocations and duration. @default - not counted */
  readonly usage?: UsageMeter;
  /**
   * Task states served by these handlers instead of their modules loaded in this process (a test
   * runs some in containers of their own, whose process can die). @default {}
   */
  readonly taskHandlers?: Readonly<Record<string, TaskHandler>>;
}

/** The error whose retrier is the infrastructure one in every Task of the saga. */
const INFRASTRUCTURE_ERROR = 'DatabaseUnavailableError';
/** About 4.5 minutes of infrastructure retries (on average) become about 28 s locally. */
export const INFRASTRUCTURE_RETRY_SCALE = 0.1;

/**
 * The payment saga as AWS runs it, on this machine: the ASL file executed by aws-local-stepfunctions,
 * each Task served by its real Lambda handler module, the compensation queue on the local SQS. The
 * handlers read their configuration from the environment, as in AWS.
 */
export async function createLocalPaymentSaga(options: LocalPaymentSagaOptions): Promise<LocalStateMachine> {
  const substitutions: Record<string, string> = {
    [COMPENSATION_QUEUE_URL_SUBSTITUTION]: options.compensationQueueUrl,
  };
  const taskHandlers: Record<string, TaskHandler> = {};
  for (const [state, handler] of await loadSagaTaskHandlers()) {
    const functionName = `checkout-${state}`;
    substitutions[`${state}FunctionArn`] =
      `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
    const invoke =
      options.taskHandlers?.[state] ??
      ((input: unknown) => handler(input as never, createLambdaContext({ functionName })));
    const { usage } = options;
    taskHandlers[state] = usage ? (input) => usage.invoke(functionName, () => invoke(input)) : invoke;
  }
  const unknown = Object.keys(options.taskHandlers ?? {}).filter((state) => !(state in taskHandlers));
  if (unknown.length > 0) throw new Error(`no Task state(s) ${unknown.join(', ')} in the payment saga`);
  return createLocalStateMachine({
    definition: PAYMENT_SAGA_DEFINITION_FILE,
    stateMachineName: 'checkout-payment-saga',
    substitutions,
    taskHandlers,
    sqsClient: options.sqsClient,
    retryIntervalScale: sagaRetryIntervalScale(options.retryIntervalScale, options.infrastructureRetryScale),
    ...(options.usage ? { usage: options.usage } : {}),
  });
}

/**
 * Compressed time for the saga's Retry rules: `retryIntervalScale` for every retrier but the
 * infrastructure one, which gets `infrastructureRetryScale` (see {@link LocalPaymentSagaOptions}).
 */
export function sagaRetryIntervalScale(
  retryIntervalScale: number,
  infrastructureRetryScale = INFRASTRUCTURE_RETRY_SCALE,
): (errorEquals: readonly string[]) => number {
  return (errorEquals) =>
    errorEquals.includes(INFRASTRUCTURE_ERROR) ? infrastructureRetryScale : retryIntervalScale;
}
