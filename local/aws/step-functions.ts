import { ExecutionAlreadyExists, ExecutionDoesNotExist, InvalidName } from '@aws-sdk/client-sfn';
import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { UsageMeter } from '../usage.js';
import {
  type AslDefinition,
  AslDefinitionError,
  forEachState,
  loadAslDefinition,
  type RetryIntervalScale,
  scaleWaits,
  substituteDefinition,
} from './asl.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-account.js';

/*
 * How the local interpreter (aws-local-stepfunctions 3.x) differs from AWS Step Functions, and
 * what this module does about it:
 * - JSONPath only: no JSONata, no `Assign` variables, no `Arguments`/`Output` fields.
 * - It can only invoke Lambda functions, and those in a real AWS account. Every Task state is
 *   therefore overridden by state name with a local handler; a Task left without one is a
 *   configuration error here rather than a call to AWS with whatever credentials are around.
 *   `arn:aws:states:::sqs:sendMessage` gets a built-in handler calling SendMessage on the local SQS.
 *   `.sync` and `.waitForTaskToken` integration patterns are not supported.
 * - Retry and Catch match the thrown error's `name`, as AWS matches a Lambda's `errorType` (the
 *   Node runtime reports `error.name`). The Catch `Cause` would be the bare message; handler errors
 *   are re-thrown with AWS's Cause, the JSON `{errorType, errorMessage, trace}`. The re-thrown error
 *   is a fresh object because the interpreter also reads `isRetryable`/`isCatchable` off whatever
 *   is thrown: an application error carrying such a property must not switch Retry or Catch off.
 * - A Task with no TimeoutSeconds times out after 60 s (AWS: 99999999 s); this module sets a long
 *   timeout on such Tasks instead. TimeoutSeconds is real time, never scaled. HeartbeatSeconds is
 *   ignored. A timed-out handler keeps running, as a Lambda does after its task timed out.
 * - The interpreter has no notion of executions. This module keeps them: names are unique per
 *   state machine for the life of the process (AWS: 90 days after the execution closes), and the
 *   Context Object carries Execution.Id/Name and StateMachine.Id/Name; there is no
 *   `$$.Task.Token`, `$$.State.EnteredTime` or `$$.State.RetryCount`.
 * - A Fail state without `Error` fails with the error `FailStateError`.
 */

/** Runs one Task state: receives the state's effective input (after InputPath/Parameters). */
export type TaskHandler = (input: unknown) => Promise<unknown>;

export interface LocalStateMachineOptions {
  /** The definition, or the path (or file URL) of its `.asl.json` file. */
  readonly definition: string | URL | object;
  /** `DefinitionSubstitutions`: each `${Name}` in the definition becomes its value. @default {} */
  readonly substitutions?: Readonly<Record<string, string>>;
  /**
   * Handlers by Task state name. For a Lambda resource (a function ARN or `lambda:invoke`) the
   * handler is the function itself; `lambda:invoke` wraps its result in `{ Payload, StatusCode }`.
   * @default {}
   */
  readonly taskHandlers?: Readonly<Record<string, TaskHandler>>;
  /** Client of the local SQS, for `sqs:sendMessage` states that have no handler of their own. */
  readonly sqsClient?: SQSClient;
  /** Multiplies every Retry interval and MaxDelaySeconds, e.g. 0.01, or per retrier. @default 1 */
  readonly retryIntervalScale?: RetryIntervalScale;
  /** Multiplies every Wait state's `Seconds`. @default 1 */
  readonly waitTimeScale?: number;
  /** The state machine's name in ARNs and the Context Object. @default 'LocalStateMachine' */
  readonly stateMachineName?: string;
  /**
   * Counts executions (`stepFunctions.executions`) and billed state transitions
   * (`stepFunctions.transitions`: every state entered, and every retry of one, as a Standard
   * workflow bills them). @default - not counted
   */
  readonly usage?: UsageMeter;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** How an execution ended: `output` when it succeeded, `error` and `cause` otherwise. */
export interface ExecutionResult {
  readonly status: Exclude<ExecutionStatus, 'RUNNING'>;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

/** What `DescribeExecution` would say about an execution. */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly input: unknown;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface StartedExecution {
  readonly executionArn: string;
  /** Settles when the execution ends; never rejects. */
  readonly result: Promise<ExecutionResult>;
}

export interface LocalStateMachine {
  readonly stateMachineArn: string;
  /**
   * Starts an execution, like StartExecution on a Standard workflow: a name already used throws
   * `ExecutionAlreadyExists`, except that repeating the call with the same input while that
   * execution runs returns it again (AWS makes StartExecution idempotent that way).
   */
  startExecution(params: { readonly name: string; readonly input?: unknown }): StartedExecution;
  /** The execution's current state; throws `ExecutionDoesNotExist` for an unknown name. */
  describe(name: string): ExecutionDescription;
  /**
   * Aborts a running execution, like StopExecution; a closed one is left as it is. As on AWS, a
   * Task handler already running is not cancelled: it finishes, and its result is dropped.
   */
  stopExecution(name: string, reason?: { readonly error?: string; readonly cause?: string }): Promise<void>;
}

type LocalTaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
/** A JSON value, as the interpreter passes between states. */
type Json = Awaited<ReturnType<LocalTaskHandlers[string]>>;
type LocalTaskHandler = (input: unknown) => Promise<Json>;

const SQS_SEND_MESSAGE = 'arn:aws:states:::sqs:sendMessage';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
/** Stands for AWS's 99999999 s default: that many milliseconds would overflow Node's timers. */
const DEFAULT_TASK_TIMEOUT_SECONDS = 2_000_000;

/**
 * Builds a state machine that runs `definition` in-process with aws-local-stepfunctions, its Task
 * states served by local handlers. Throws `AslDefinitionError` for an invalid definition, a missing
 * substitution, a Task state without a handler or a handler without a Task state.
 */
export function createLocalStateMachine(options: LocalStateMachineOptions): LocalStateMachine {
  const stateMachineName = options.stateMachineName ?? 'LocalStateMachine';
  const stateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${stateMachineName}`;
  const definition = substituteDefinition(loadAslDefinition(options.definition), options.substitutions ?? {});

  try {
    // Validates the definition as written (the interpreter's constructor runs asl-validator).
    new StateMachine(definition as unknown as StateMachineDefinition);
  } catch (error) {
    throw new AslDefinitionError('the state machine definition is invalid', { cause: error });
  }
  const runnable = withTaskTimeouts(
    scaleWaits(definition, {
      retryInterval: options.retryIntervalScale ?? 1,
      waitTime: options.waitTimeScale ?? 1,
    }),
  );
  // Validated above; scaled intervals may be fractional, which AWS would not accept.
  const machine = new StateMachine(runnable as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  const overrides: RunOptions['overrides'] = {
    taskResourceLocalHandlers: buildTaskHandlers(definition, options),
  };

  const executions = new Map<string, ExecutionRecord>();

  function startExecution({ name, input = {} }: { name: string; input?: unknown }): StartedExecution {
    validateExecutionName(name);
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${stateMachineName}:${name}`;
    // AWS receives the input as a JSON string: round-trip it to get the same value and comparison.
    const inputJson = JSON.stringify(input);
    const existing = executions.get(name);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.inputJson === inputJson) {
        return { executionArn, result: existing.result };
      }
      throw new ExecutionAlreadyExists({
        message: `Execution Already Exists: '${executionArn}'`,
        $metadata: {},
      });
    }

    const run = machine.run(JSON.parse(inputJson), {
      overrides,
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: stateMachineArn, Name: stateMachineName },
      },
    });
    const record: ExecutionRecord = {
      executionArn,
      name,
      inputJson,
      status: 'RUNNING',
      startDate: new Date(),
      abort: run.abort,
      result: run.result.then(
        (output): ExecutionResult => ({ status: 'SUCCEEDED', output }),
        (error: unknown): ExecutionResult => toFailure(error, record.stopReason),
      ),
    };
    record.result = record.result.then((result) => {
      Object.assign(record, result, { stopDate: new Date() });
      return result;
    });
    executions.set(name, record);
    if (options.usage) countTransitions(run.eventLogs, options.usage);
    return { executionArn, result: record.result };
  }

  function find(name: string): ExecutionRecord {
    const record = executions.get(name);
    if (!record) {
      throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${name}'`, $metadata: {} });
    }
    return record;
  }

  return {
    stateMachineArn,
    startExecution,
    describe(name) {
      const { executionArn, status, inputJson, startDate, stopDate, output, error, cause } = find(name);
      return {
        executionArn,
        name,
        status,
        input: JSON.parse(inputJson),
        startDate,
        stopDate,
        output,
        error,
        cause,
      };
    },
    async stopExecution(name, reason = {}) {
      const record = find(name);
      if (record.status !== 'RUNNING') return;
      record.stopReason = reason;
      record.abort();
      await record.result;
    },
  };
}

async function countTransitions(events: AsyncGenerator<{ type: string }>, usage: UsageMeter): Promise<void> {
  usage.count('stepFunctions.executions');
  for await (const event of events) {
    if (event.type === 'StateEntered' || event.type === 'StateRetried')
      usage.count('stepFunctions.transitions');
  }
}

interface ExecutionRecord {
  readonly executionArn: string;
  readonly name: string;
  readonly inputJson: string;
  readonly startDate: Date;
  readonly abort: () => void;
  result: Promise<ExecutionResult>;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: unknown;
  error?: string;
  cause?: string;
  stopReason?: { readonly error?: string; readonly cause?: string };
}

function toFailure(error: unknown, stopReason: ExecutionRecord['stopReason']): ExecutionResult {
  if (error instanceof ExecutionAbortedError) {
    return { status: 'ABORTED', error: stopReason?.error, cause: stopReason?.cause };
  }
  if (error instanceof ExecutionTimeoutError) {
    return {
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: 'the execution exceeded its TimeoutSeconds',
    };
  }
  // ExecutionError wraps the state's error: its name is the ASL error, its message the Cause.
  const stateError = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
  if (stateError instanceof Error)
    return { status: 'FAILED', error: stateError.name, cause: stateError.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: String(stateError) };
}

/** Maps every Task state to a local function, refusing to leave one to the interpreter's Lambda call. */
function buildTaskHandlers(definition: AslDefinition, options: LocalStateMachineOptions): LocalTaskHandlers {
  const given = options.taskHandlers ?? {};
  const handlers: Record<string, LocalTaskHandler> = {};
  const unserved: string[] = [];

  forEachState(definition, (stateName, state) => {
    if (state.Type !== 'Task') return;
    const resource = String(state.Resource);
    const handler = given[stateName];
    if (handler) {
      handlers[stateName] = resource === LAMBDA_INVOKE ? asLambdaInvoke(handler) : asLambda(handler);
    } else if (resource === SQS_SEND_MESSAGE && options.sqsClient) {
      handlers[stateName] = sendMessageVia(options.sqsClient);
    } else {
      unserved.push(`${stateName} (${resource})`);
    }
  });

  if (unserved.length > 0) {
    throw new AslDefinitionError(`no local handler for Task state(s): ${unserved.join(', ')}`);
  }
  const unknown = Object.keys(given).filter((name) => !(name in handlers));
  if (unknown.length > 0) {
    throw new AslDefinitionError(`handlers given for states that are not Task states: ${unknown.join(', ')}`);
  }
  return handlers;
}

/**
 * Invokes a handler the way Step Functions invokes a Lambda function: the input is a fresh copy
 * (it travelled as JSON), the result is what JSON makes of it, and an error keeps its name as the
 * ASL error while its message becomes the Cause AWS would report.
 */
function asLambda(handler: TaskHandler): LocalTaskHandler {
  return async (input) => {
    try {
      return toJson(await handler(structuredClone(input)));
    } catch (error) {
      throw new LambdaFunctionError(error);
    }
  };
}

/** `arn:aws:states:::lambda:invoke`: the function receives `Payload`; the result wraps its output. */
function asLambdaInvoke(handler: TaskHandler): LocalTaskHandler {
  const invoke = asLambda(handler);
  return async (input) => {
    const payload = (input as { Payload?: unknown } | null)?.Payload ?? {};
    // AWS adds SdkHttpMetadata and SdkResponseMetadata too; nothing should depend on those.
    return toJson({ ExecutedVersion: '$LATEST', Payload: await invoke(payload), StatusCode: 200 });
  };
}

/** The error Step Functions sees when a Lambda function throws. */
class LambdaFunctionError extends Error {
  constructor(thrown: unknown) {
    const original = thrown instanceof Error ? thrown : new Error(String(thrown));
    // Lambda's Node runtime reports `error.name` as the errorType, which Retry and Catch match.
    super(
      JSON.stringify({
        errorType: original.name,
        errorMessage: original.message,
        trace: original.stack?.split('\n') ?? [],
      }),
      { cause: thrown },
    );
    this.name = original.name;
  }
}

interface SendMessageParameters {
  readonly QueueUrl?: unknown;
  readonly MessageBody?: unknown;
  readonly DelaySeconds?: number;
  readonly MessageAttributes?: Record<string, MessageAttributeValue>;
  readonly MessageGroupId?: string;
  readonly MessageDeduplicationId?: string;
}

/**
 * The `sqs:sendMessage` service integration, over the wire to the local SQS. The input is the
 * state's evaluated Parameters; a JSON MessageBody is serialised, as AWS does.
 */
function sendMessageVia(client: SQSClient): LocalTaskHandler {
  return async (input) => {
    const parameters = (input ?? {}) as SendMessageParameters;
    if (typeof parameters.QueueUrl !== 'string' || parameters.MessageBody === undefined) {
      throw new ServiceIntegrationError('SQS.InvalidParameters', 'QueueUrl and MessageBody are required');
    }
    const { MessageBody, QueueUrl, ...rest } = parameters;
    try {
      const sent = await client.send(
        new SendMessageCommand({
          ...rest,
          QueueUrl,
          MessageBody: typeof MessageBody === 'string' ? MessageBody : JSON.stringify(MessageBody),
        }),
      );
      return toJson({
        MD5OfMessageBody: sent.MD5OfMessageBody,
        MessageId: sent.MessageId,
        SequenceNumber: sent.SequenceNumber,
      });
    } catch (error) {
      // AWS prefixes a service integration's errors with the service: `SQS.<exception>`.
      const name = error instanceof Error ? error.name : 'SdkClientException';
      throw new ServiceIntegrationError(
        `SQS.${name}`,
        error instanceof Error ? error.message : String(error),
        error,
      );
    }
  };
}

class ServiceIntegrationError extends Error {
  constructor(name: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = name;
  }
}

/** Gives Tasks without a timeout AWS's practically unlimited one instead of the interpreter's 60 s. */
function withTaskTimeouts(definition: AslDefinition): AslDefinition {
  const copy = structuredClone(definition);
  forEachState(copy, (_name, state) => {
    if (
      state.Type === 'Task' &&
      state.TimeoutSeconds === undefined &&
      state.TimeoutSecondsPath === undefined
    ) {
      (state as Record<string, unknown>).TimeoutSeconds = DEFAULT_TASK_TIMEOUT_SECONDS;
    }
  });
  return copy;
}

/** What AWS refuses in execution names: whitespace, control characters and any of <>{}[]?*"#%\^|~`$&,;:/ */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const INVALID_NAME_CHARACTER = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

/** Execution names are 1 to 80 characters, none of them invalid. */
function validateExecutionName(name: string): void {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARACTER.test(name)) {
    throw new InvalidName({ message: `Invalid Name: '${name}'`, $metadata: {} });
  }
}

/** What a trip through JSON makes of a value, as between AWS services (`undefined` becomes null). */
function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}
