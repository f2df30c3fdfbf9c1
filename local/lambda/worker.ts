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
import {
  type ContainerMessage,
  type FunctionError,
  type InitMessage,
  type ParentMessage,
  toFunctionError,
} from './protocol.js';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let handler: Handler | undefined;
/** The invocation running, if any: a crash fails it. */
let running: { readonly requestId: string; readonly started: number } | undefined;

/** Sends to the pool, then runs `then`; a failed send means the parent is gone (see 'disconnect'). */
function send(message: ContainerMessage, then: () => void = () => {}): void {
  if (process.send) process.send(message, undefined, undefined, () => then());
  else then();
}

// The parent went away (stopped, or killed): a container never outlives it.
process.on('disconnect', () => process.exit(0));
// The pool stops its containers with SIGTERM: exit as a process does, so exit hooks run (a CPU
// profile asked for with LOCAL_LAMBDA_NODE_FLAGS is written then).
process.on('SIGTERM', () => process.exit(0));

/**
 * As the Lambda Node runtime does: an unhandled rejection fails the invocation running with
 * `Runtime.UnhandledPromiseRejection` (its message the reason as text), an uncaught exception with
 * that error's own type; once the failure is reported, the process exits (128 and 129, the
 * runtime's codes) and the pool replaces the container with a cold one.
 */
function crash(error: FunctionError, exitCode: number): void {
  console.error(`ERROR\t${error.errorType}\t${JSON.stringify(error)}`);
  const exit = () => process.exit(exitCode);
  if (!running) {
    exit();
    return;
  }
  const { requestId, started } = running;
  send({ type: 'failed', requestId, error, durationMs: performance.now() - started, crashed: true }, exit);
}
process.on('unhandledRejection', (reason) => {
  const errorType = 'Runtime.UnhandledPromiseRejection';
  const errorMessage = String(reason);
  const frames = reason instanceof Error ? (reason.stack?.split('\n').slice(1) ?? []) : [];
  crash({ errorType, errorMessage, trace: [`${errorType}: ${errorMessage}`, ...frames] }, 128);
});
process.on('uncaughtException', (error) => crash(toFunctionError(error), 129));

process.on('message', (message: ParentMessage) => {
  if (message.type === 'init') void init(message);
  else if (message.type === 'crash') crashNow(message);
  else void invoke(message);
});

/** The pool ends this process mid-invocation (see `CrashMessage`). */
function crashNow(message: Extract<ParentMessage, { type: 'crash' }>): void {
  if (message.kind === 'exit') process.exit(1);
  void Promise.reject(new Error(`write CONNECTION_CLOSED (injected: ${message.reason})`));
}

async function init(message: InitMessage): Promise<void> {
  const started = performance.now();
  try {
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
  // The handler's own CPU, what Lambda bills as compute: this container runs one invocation at a
  // time, so the process's CPU between these two points is the handler's (the IPC around it is not).
  const cpu = process.cpuUsage();
  const cpuMs = () => {
    const { user, system } = process.cpuUsage(cpu);
    return (user + system) / 1000;
  };
  const { requestId } = message;
  running = { requestId, started };
  try {
    const value = await (handler as Handler)(message.event, lambdaContext(message));
    send({ type: 'result', requestId, value, durationMs: performance.now() - started, cpuMs: cpuMs() });
  } catch (error) {
    send({
      type: 'failed',
      requestId,
      error: toFunctionError(error),
      durationMs: performance.now() - started,
      cpuMs: cpuMs(),
    });
  } finally {
    running = undefined;
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
