/**
 * One Lambda container: a child process that loads one function's bundle (the INIT phase, timed),
 * then runs one invocation at a time as the parent asks over IPC. Its environment is the
 * function's, set by the parent at fork time, so module state (pools, breakers, clients) lives
 * and dies with the container. Bundled by local/lambda/build.ts; never deployed.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { createLambdaContext } from '../aws/lambda-context.js';
import { recordFailureFaults } from '../record-failures.js';
import { LOCAL_FAULTS } from './fault-hook.js';
import { type ContainerMessage, type ParentMessage, toFunctionError } from './protocol.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let handler: Handler | undefined;
/** The invocation running, if any: a crash fails it. */
let running: string | undefined;

// A failed send means the parent is gone; the 'disconnect' below ends this process.
const send = (message: ContainerMessage) => process.send?.(message, undefined, undefined, () => {});

// The parent went away (stopped, or killed): a container never outlives it.
process.on('disconnect', () => process.exit(0));

/**
 * As the Lambda Node runtime does: an unhandled rejection or exception fails the invocation
 * running (`Runtime.UnhandledPromiseRejection`, `Runtime.UncaughtException`) and ends the
 * container, which the pool replaces with a cold one.
 */
function crash(errorType: string, thrown: unknown): void {
  const error = { ...toFunctionError(thrown), errorType };
  console.error(`ERROR\t${errorType}\t${JSON.stringify(error)}`);
  if (running) send({ type: 'failed', requestId: running, error, durationMs: 0 });
  setImmediate(() => process.exit(129));
}
process.on('unhandledRejection', (reason) => crash('Runtime.UnhandledPromiseRejection', reason));
process.on('uncaughtException', (error) => crash('Runtime.UncaughtException', error));

process.on('message', (message: ParentMessage) => {
  if (message.type === 'init') void init(message);
  else void invoke(message);
});

async function init(message: Extract<ParentMessage, { type: 'init' }>): Promise<void> {
  const started = performance.now();
  try {
    if (message.recordFailures) {
      (globalThis as Record<symbol, unknown>)[LOCAL_FAULTS] = recordFailureFaults(message.recordFailures);
    }
    const module = (await import(pathToFileURL(message.bundle).href)) as Record<string, unknown>;
    const exported = module[message.handlerExport];
    if (typeof exported !== 'function') {
      const error = new Error(`${message.handlerExport} is undefined or not exported`);
      error.name = 'Runtime.HandlerNotFound';
      throw error;
    }
    handler = exported as Handler;
    send({ type: 'ready', initMs: performance.now() - started });
  } catch (error) {
    send({ type: 'initFailed', error: toFunctionError(error), initMs: performance.now() - started });
  }
}

async function invoke(message: Extract<ParentMessage, { type: 'invoke' }>): Promise<void> {
  const started = performance.now();
  const { requestId } = message;
  running = requestId;
  try {
    const value = await (handler as Handler)(message.event, lambdaContext(message));
    send({ type: 'result', requestId, value, durationMs: performance.now() - started });
  } catch (error) {
    send({
      type: 'failed',
      requestId,
      error: toFunctionError(error),
      durationMs: performance.now() - started,
    });
  }
}

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
const logStreamName = `local/[$LATEST]${randomUUID().replaceAll('-', '')}`;

function lambdaContext(message: Extract<ParentMessage, { type: 'invoke' }>): Context {
  return createLambdaContext({
    functionName,
    timeoutMs: message.deadline - Date.now(),
    memoryLimitInMB: Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? 128),
    awsRequestId: message.requestId,
    ...(process.env.LOCAL_LAMBDA_FUNCTION_ARN
      ? { invokedFunctionArn: process.env.LOCAL_LAMBDA_FUNCTION_ARN }
      : {}),
    logStreamName,
  });
}
