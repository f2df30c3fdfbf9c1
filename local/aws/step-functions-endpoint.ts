import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UsageMeter } from '../usage.js';
import { closeServer, listen } from './http-server.js';
import type { LocalStateMachine } from './step-functions.js';
import { TokenBucket } from './token-bucket.js';

/**
 * AWS's StartExecution quota for Standard workflows in the large regions (US East N. Virginia, US
 * West Oregon, Europe Ireland): a bucket of 1,300 that refills at 300 per second. Other regions
 * have 800 and 150. Per account and region, shared by every caller.
 */
export const AWS_START_EXECUTION_QUOTA = { ratePerSecond: 300, burst: 1300 } as const;

/** A StartExecution quota: `ratePerSecond` tokens a second into a bucket of `burst`. */
export interface StartExecutionQuota {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** The slice of the Step Functions API the service calls, served over its wire protocol. */
export interface LocalStepFunctionsEndpoint {
  /** For `AWS_ENDPOINT_URL_SFN` or an `SFNClient`'s `endpoint`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Serves `StartExecution` and `DescribeExecution` (AWS JSON 1.0, `X-Amz-Target:
 * AWSStepFunctions.<Operation>`) for a local state machine, so the API handlers, the saga starter
 * and the sweeper run unchanged locally: their real `SFNClient` is pointed here by
 * `AWS_ENDPOINT_URL_SFN`. Errors use the `__type` names the SDK turns into its exception classes
 * (ExecutionAlreadyExists, ExecutionDoesNotExist, StateMachineDoesNotExist, InvalidName).
 *
 * StartExecution is held to a quota as AWS holds it (a token bucket, AWS's documented numbers by
 * default): a call beyond it is answered as AWS answers it, HTTP 400 with the Coral throttling
 * error `com.amazon.coral.availability#ThrottlingException` and "Rate exceeded", which the SDK
 * raises as a `ThrottlingException` (and its standard retry strategy treats as a throttle).
 */
export async function startStepFunctionsEndpoint(options: {
  readonly machine: LocalStateMachine;
  readonly port?: number;
  /** @default AWS_START_EXECUTION_QUOTA */
  readonly startExecutionQuota?: StartExecutionQuota;
  /** Counts throttled StartExecution calls (`stepFunctions.startExecutionThrottled`). @default - not counted */
  readonly usage?: UsageMeter;
}): Promise<LocalStepFunctionsEndpoint> {
  const { machine } = options;
  const quota = options.startExecutionQuota ?? AWS_START_EXECUTION_QUOTA;
  const starts = new TokenBucket(quota.ratePerSecond, quota.burst);
  const server = createServer((request, response) => {
    void handle(machine, request, response, () => {
      if (starts.take()) return true;
      options.usage?.count('stepFunctions.startExecutionThrottled');
      return false;
    });
  });
  await listen(server, options.port ?? 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

async function handle(
  machine: LocalStateMachine,
  request: IncomingMessage,
  response: ServerResponse,
  takeStartToken: () => boolean,
) {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const operation = String(request.headers['x-amz-target'] ?? '').replace('AWSStepFunctions.', '');
  if (operation === 'StartExecution' && !takeStartToken()) {
    // Refused at the door, before the request is looked at, as AWS's quota refuses it.
    reply(response, 400, { __type: THROTTLING_TYPE, message: 'Rate exceeded' });
    return;
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    reply(response, 200, operate(machine, operation, body));
  } catch (error) {
    const name = error instanceof Error ? error.name : 'InternalFailure';
    const status = name === 'InternalFailure' || name === 'SyntaxError' ? 500 : 400;
    reply(response, status, {
      __type: name,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

function operate(machine: LocalStateMachine, operation: string, body: Record<string, unknown>): object {
  switch (operation) {
    case 'StartExecution': {
      // The state machine itself, or one of its aliases or versions (`<arn>:live`, `<arn>:1`).
      const target = String(body.stateMachineArn);
      if (target !== machine.stateMachineArn && !target.startsWith(`${machine.stateMachineArn}:`)) {
        throw named(
          'StateMachineDoesNotExist',
          `state machine ${String(body.stateMachineArn)} does not exist`,
        );
      }
      const input = typeof body.input === 'string' ? JSON.parse(body.input) : {};
      const started = machine.startExecution({ name: String(body.name), input });
      return { executionArn: started.executionArn, startDate: Date.now() / 1000 };
    }
    case 'DescribeExecution': {
      const executionArn = String(body.executionArn);
      const name = executionArn.slice(executionArn.lastIndexOf(':') + 1);
      const execution = machine.describe(name);
      return {
        executionArn: execution.executionArn,
        stateMachineArn: machine.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate.getTime() / 1000,
        ...(execution.stopDate ? { stopDate: execution.stopDate.getTime() / 1000 } : {}),
        input: JSON.stringify(execution.input ?? {}),
        ...(execution.output !== undefined ? { output: JSON.stringify(execution.output) } : {}),
        ...(execution.error ? { error: execution.error } : {}),
        ...(execution.cause ? { cause: execution.cause } : {}),
      };
    }
    default:
      throw named('UnknownOperationException', `operation ${operation} is not served locally`);
  }
}

/** The error type AWS's front door answers a call over its quota with. */
const THROTTLING_TYPE = 'com.amazon.coral.availability#ThrottlingException';

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function reply(response: ServerResponse, status: number, body: object) {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  response.end(JSON.stringify(body));
}
