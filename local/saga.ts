import path from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { handler as authorizePayment } from '../lambdas/saga/authorize-payment.js';
import { handler as cancelOrder } from '../lambdas/saga/cancel-order.js';
import { handler as capturePayment } from '../lambdas/saga/capture-payment.js';
import { handler as confirmOrder } from '../lambdas/saga/confirm-order.js';
import { handler as markRequiresAttention } from '../lambdas/saga/mark-requires-attention.js';
import { handler as refundStoreCredit } from '../lambdas/saga/refund-store-credit.js';
import { handler as releaseReservations } from '../lambdas/saga/release-reservations.js';
import { handler as reversePayment } from '../lambdas/saga/reverse-payment.js';
import { createLambdaContext } from './aws/lambda-context.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws/local-account.js';
import { createLocalStateMachine, type LocalStateMachine, type TaskHandler } from './aws/step-functions.js';
import type { UsageMeter } from './usage.js';

export const PAYMENT_SAGA_DEFINITION = path.resolve(
  import.meta.dirname,
  '../statemachines/payment-saga.asl.json',
);

type LambdaHandler = (event: never, context: Context) => Promise<unknown>;

/** The Lambda handler of each Task state, by state name: the same modules AWS runs. */
export const SAGA_TASK_HANDLERS: Readonly<Record<string, LambdaHandler>> = {
  AuthorizePayment: authorizePayment,
  CapturePayment: capturePayment,
  ConfirmOrder: confirmOrder,
  ReversePayment: reversePayment,
  ReleaseReservations: releaseReservations,
  RefundStoreCredit: refundStoreCredit,
  CancelOrder: cancelOrder,
  MarkRequiresAttention: markRequiresAttention,
};

export interface LocalPaymentSagaOptions {
  readonly sqsClient: SQSClient;
  readonly compensationQueueUrl: string;
  /** Shrinks every Retry interval (60 s capture backoff and all): 0.001 turns a minute into 60 ms. */
  readonly retryIntervalScale: number;
  /**
   * Shrinks the retries of infrastructure errors (the database away, Lambda's own failures) instead.
   * They are compressed less: a local PostgreSQL restart takes real seconds, not compressed ones,
   * and the saga must outlast it here as it outlasts an RDS failover in AWS (about 3 minutes of
   * retries; 0.1 makes that 18 s).
   * @default INFRASTRUCTURE_RETRY_SCALE
   */
  readonly infrastructureRetryScale?: number;
  /** Counts transitions and each task function's invocations and duration. @default - not counted */
  readonly usage?: UsageMeter;
}

/** The error whose retrier is the infrastructure one in every Task of the saga. */
const INFRASTRUCTURE_ERROR = 'DatabaseUnavailableError';
/** About 3 minutes of infrastructure retries become about 18 s locally. */
export const INFRASTRUCTURE_RETRY_SCALE = 0.1;

/**
 * The payment saga as AWS runs it, on this machine: the ASL file executed by aws-local-stepfunctions,
 * each Task served by its real Lambda handler module, the compensation queue on the local SQS. The
 * Lambda handlers read their configuration (DATABASE_URL, PAYMENT_PROVIDER_URL, ...) from the
 * environment, as they do in AWS.
 */
export function createLocalPaymentSaga(options: LocalPaymentSagaOptions): LocalStateMachine {
  const substitutions: Record<string, string> = { CompensationQueueUrl: options.compensationQueueUrl };
  const taskHandlers: Record<string, TaskHandler> = {};
  for (const [state, handler] of Object.entries(SAGA_TASK_HANDLERS)) {
    const functionName = `checkout-${state}`;
    substitutions[`${state}FunctionArn`] =
      `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
    const invoke = (input: unknown) => handler(input as never, createLambdaContext({ functionName }));
    const { usage } = options;
    taskHandlers[state] = usage ? (input) => usage.invoke(functionName, () => invoke(input)) : invoke;
  }
  return createLocalStateMachine({
    definition: PAYMENT_SAGA_DEFINITION,
    stateMachineName: 'checkout-payment-saga',
    substitutions,
    taskHandlers,
    sqsClient: options.sqsClient,
    retryIntervalScale: (errorEquals) =>
      errorEquals.includes(INFRASTRUCTURE_ERROR)
        ? (options.infrastructureRetryScale ?? INFRASTRUCTURE_RETRY_SCALE)
        : options.retryIntervalScale,
    ...(options.usage ? { usage: options.usage } : {}),
  });
}
