import { ExecutionAlreadyExists, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AslDefinitionError } from '../../local/aws/asl.js';
import {
  createLocalSqsClient,
  createQueueWithDlq,
  type LocalSqs,
  startLocalSqs,
} from '../../local/aws/sqs.js';
import { createLocalStateMachine, type TaskHandler } from '../../local/aws/step-functions.js';

const DEFINITION = new URL('./fixtures/charge-and-notify.asl.json', import.meta.url);

/** An error as a Lambda function throws it: Retry and Catch match its `name`. */
class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

describe('local Step Functions runner', () => {
  let sqs: LocalSqs;
  let sqsClient: SQSClient;
  let failureQueueUrl: string;

  beforeAll(async () => {
    sqs = await startLocalSqs();
    sqsClient = createLocalSqsClient(sqs.endpoint);
    ({ queueUrl: failureQueueUrl } = await createQueueWithDlq(sqsClient, {
      name: 'payment-failures',
      visibilityTimeoutSeconds: 5,
    }));
  });

  afterAll(async () => {
    sqsClient?.destroy();
    await sqs?.close();
  });

  /** The fixture machine, its Retry intervals (60 s, backoff 2) compressed a thousandfold. */
  function chargeMachine(chargeCard: TaskHandler) {
    return createLocalStateMachine({
      definition: DEFINITION,
      substitutions: {
        ChargeCardFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:charge-card',
        FailureQueueUrl: failureQueueUrl,
      },
      taskHandlers: { ChargeCard: chargeCard },
      sqsClient,
      retryIntervalScale: 0.001,
    });
  }

  /** Handler that throws the given errors in turn, then succeeds; counts its calls. */
  function failingThen(...errors: Error[]) {
    const calls = { count: 0 };
    const handler: TaskHandler = async () => {
      const error = errors[calls.count];
      calls.count += 1;
      if (error) throw error;
      return { chargeId: 'ch_1' };
    };
    return { handler, calls };
  }

  async function receiveReport(): Promise<Record<string, unknown>> {
    const { Messages = [] } = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: failureQueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }),
    );
    expect(Messages).toHaveLength(1);
    return JSON.parse(Messages[0]?.Body ?? 'null');
  }

  test('a Task that throws a retryable error succeeds on the retry, waits compressed', async () => {
    const { handler, calls } = failingThen(new NamedError('ProviderUnavailable', 'provider returned 503'));
    const machine = chargeMachine(handler);
    const startedAt = Date.now();

    const { result } = machine.startExecution({ name: 'order-retry', input: { orderId: 'order-retry' } });
    const outcome = await result;

    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      output: { orderId: 'order-retry', charge: { chargeId: 'ch_1' } },
    });
    expect(calls.count).toBe(2);
    expect(Date.now() - startedAt).toBeLessThan(5_000); // 60 s uncompressed
    expect(machine.describe('order-retry')).toMatchObject({
      status: 'SUCCEEDED',
      input: { orderId: 'order-retry' },
    });
  });

  test('a declined charge is not retried: it is caught, reported on SQS and fails the execution by name', async () => {
    const { handler, calls } = failingThen(new NamedError('CardDeclined', 'insufficient funds'));
    const machine = chargeMachine(handler);

    const outcome = await machine.startExecution({
      name: 'order-declined',
      input: { orderId: 'order-declined' },
    }).result;

    expect(outcome).toEqual({
      status: 'FAILED',
      error: 'PaymentFailed',
      cause: 'the charge failed and was reported',
    });
    expect(calls.count).toBe(1);
    const report = await receiveReport();
    expect(report).toMatchObject({
      orderId: 'order-declined',
      execution: 'order-declined',
      error: { Error: 'CardDeclined' },
    });
    // As on AWS, the Cause of a Lambda error is the runtime's JSON error report.
    const cause = JSON.parse(String((report.error as { Cause: string }).Cause));
    expect(cause).toMatchObject({ errorType: 'CardDeclined', errorMessage: 'insufficient funds' });
  });

  test('a retryable error that persists exhausts MaxAttempts, then the Catch path runs', async () => {
    const unavailable = new NamedError('ProviderUnavailable', 'provider returned 503');
    const { handler, calls } = failingThen(unavailable, unavailable, unavailable, unavailable);
    const machine = chargeMachine(handler);

    const outcome = await machine.startExecution({
      name: 'order-exhausted',
      input: { orderId: 'order-exhausted' },
    }).result;

    expect(outcome).toMatchObject({ status: 'FAILED', error: 'PaymentFailed' });
    expect(calls.count).toBe(4); // the first attempt and three retries
    expect(await receiveReport()).toMatchObject({ error: { Error: 'ProviderUnavailable' } });
  });

  test('a second execution with the same name is rejected with ExecutionAlreadyExists', async () => {
    const machine = chargeMachine(failingThen().handler);
    await machine.startExecution({ name: 'order-once', input: { orderId: 'order-once' } }).result;

    const startAgain = () => machine.startExecution({ name: 'order-once', input: { orderId: 'order-once' } });

    expect(startAgain).toThrow(ExecutionAlreadyExists);
    expect(startAgain).toThrow(expect.objectContaining({ name: 'ExecutionAlreadyExists' }));
  });

  test('while an execution runs, the same name with other input is rejected and with the same input is the same execution', async () => {
    let release: () => void = () => {};
    const providerAnswers = new Promise<void>((resolve) => {
      release = resolve;
    });
    const machine = chargeMachine(async () => {
      await providerAnswers;
      return { chargeId: 'ch_slow' };
    });
    const first = machine.startExecution({ name: 'order-running', input: { orderId: 'order-running' } });

    const again = machine.startExecution({ name: 'order-running', input: { orderId: 'order-running' } });
    const other = () =>
      machine.startExecution({ name: 'order-running', input: { orderId: 'something-else' } });

    expect(again.executionArn).toBe(first.executionArn);
    expect(other).toThrow(ExecutionAlreadyExists);
    expect(machine.describe('order-running').status).toBe('RUNNING');
    release();
    expect((await first.result).status).toBe('SUCCEEDED');
  });

  test('stopping a running execution ends it ABORTED with the given error and cause', async () => {
    let answer: () => void = () => {};
    const providerAnswers = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const machine = chargeMachine(() => providerAnswers);
    const { result } = machine.startExecution({ name: 'order-stuck', input: { orderId: 'order-stuck' } });

    await machine.stopExecution('order-stuck', { error: 'Sweeper', cause: 'stuck past the threshold' });
    answer(); // a stop does not cancel a running handler, here or on AWS; let it finish

    expect(await result).toEqual({ status: 'ABORTED', error: 'Sweeper', cause: 'stuck past the threshold' });
    expect(machine.describe('order-stuck')).toMatchObject({ status: 'ABORTED', stopDate: expect.any(Date) });
  });

  test('describing an unknown execution throws ExecutionDoesNotExist', () => {
    const machine = chargeMachine(failingThen().handler);

    expect(() => machine.describe('never-started')).toThrow(ExecutionDoesNotExist);
  });

  test('a Task state without a handler, or a placeholder without a value, is refused up front', () => {
    const withoutHandler = () =>
      createLocalStateMachine({
        definition: DEFINITION,
        substitutions: {
          ChargeCardFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:x',
          FailureQueueUrl: 'x',
        },
        sqsClient,
      });
    const withoutSubstitution = () =>
      createLocalStateMachine({
        definition: DEFINITION,
        taskHandlers: { ChargeCard: failingThen().handler },
        sqsClient,
      });

    expect(withoutHandler).toThrow(AslDefinitionError);
    expect(withoutHandler).toThrow(/ChargeCard/);
    expect(withoutSubstitution).toThrow(/\$\{ChargeCardFunctionArn\}, \$\{FailureQueueUrl\}/);
  });
});
