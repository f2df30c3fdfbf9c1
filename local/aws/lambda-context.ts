import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-account.js';

export interface CreateLambdaContextOptions {
  readonly functionName: string;
  /** The function's configured timeout; drives `getRemainingTimeInMillis()`. @default 30000 */
  readonly timeoutMs?: number;
  /** @default 1024 */
  readonly memoryLimitInMB?: number;
  /** @default - a new UUID */
  readonly awsRequestId?: string;
  /** @default - the function's unqualified ARN in the local account */
  readonly invokedFunctionArn?: string;
  /** One per container in Lambda. @default - a new one */
  readonly logStreamName?: string;
}

/**
 * A Lambda `Context` for invoking a handler in-process, as the runtime would. Powertools reads
 * `getRemainingTimeInMillis()` (idempotency sizes its in-progress window with it), so the clock
 * starts when the context is created: make one per invocation.
 */
export function createLambdaContext(options: CreateLambdaContextOptions): Context {
  const { functionName, timeoutMs = 30_000, memoryLimitInMB = 1024 } = options;
  const deadline = Date.now() + timeoutMs;
  const unsupported = (): never => {
    // The callback-era methods are not part of the async handler contract this project uses.
    throw new Error('context.done/fail/succeed are not supported locally; return or throw instead');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn:
      options.invokedFunctionArn ??
      `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(memoryLimitInMB),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: options.logStreamName ?? `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
