/**
 * The messages between a function's container (local/lambda/worker.ts, a child process) and the
 * pool that runs it (local/lambda/containers.ts), over the fork IPC channel. One invocation at a
 * time per container, as in Lambda.
 */

export interface InitMessage {
  readonly type: 'init';
  /** The function's bundle, an absolute path. */
  readonly bundle: string;
  readonly handlerExport: string;
}

export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch milliseconds when the function times out: `context.getRemainingTimeInMillis()`. */
  readonly deadline: number;
}

/**
 * Ends the process, as a crash in the middle of an invocation would (fault injection from outside
 * the function: local/faults/process-crashes.ts): `exit` exits with status 1, `unhandledRejection`
 * leaves a rejected promise nobody awaits, which the runtime reports and exits on.
 */
export interface CrashMessage {
  readonly type: 'crash';
  readonly kind: 'exit' | 'unhandledRejection';
  /** Why, for the rejection's message. */
  readonly reason: string;
}

export type ParentMessage = InitMessage | InvokeMessage | CrashMessage;

/** What Lambda reports for a failed invocation: `errorType` is the error's name. */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export type ContainerMessage =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'initFailed'; readonly error: FunctionError; readonly initMs: number }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly value: unknown;
      readonly durationMs: number;
      /** The handler's own CPU time (process.cpuUsage around it), apart from the runtime's IPC. */
      readonly cpuMs?: number;
    }
  | {
      readonly type: 'failed';
      readonly requestId: string;
      readonly error: FunctionError;
      readonly durationMs: number;
      readonly cpuMs?: number;
      /** The process is ending (an unhandled rejection or exception): its container is gone. */
      readonly crashed?: true;
    };

export function toFunctionError(thrown: unknown): FunctionError {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return { errorType: error.name, errorMessage: error.message, trace: error.stack?.split('\n') ?? [] };
}
