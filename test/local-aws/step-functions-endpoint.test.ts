import { randomUUID } from 'node:crypto';
import {
  ExecutionDoesNotExist,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { isThrottlingError } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { createLocalStateMachine } from '../../local/aws/step-functions.js';
import {
  type LocalStepFunctionsEndpoint,
  startStepFunctionsEndpoint,
} from '../../local/aws/step-functions-endpoint.js';
import { TokenBucket } from '../../local/aws/token-bucket.js';
import { UsageMeter } from '../../local/usage.js';
import { SagaStartError } from '../../src/saga/saga-starter.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';

describe('local Step Functions endpoint with the real SFN client', () => {
  const machine = createLocalStateMachine({
    definition: {
      StartAt: 'Wait',
      States: { Wait: { Type: 'Wait', Seconds: 1, Next: 'Done' }, Done: { Type: 'Succeed' } },
    },
    // A whole second of Wait: the execution is still running when the test first looks, even on a
    // loaded machine.
    waitTimeScale: 1,
  });
  let endpoint: LocalStepFunctionsEndpoint;
  let client: SFNClient;
  let starter: StepFunctionsSagaStarter;

  beforeAll(async () => {
    endpoint = await startStepFunctionsEndpoint({ machine });
    client = new SFNClient({
      endpoint: endpoint.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    starter = new StepFunctionsSagaStarter(client, machine.stateMachineArn);
  });
  afterAll(async () => {
    client.destroy();
    await endpoint.close();
  });

  test('starts one execution per order id; a second start reports it exists', async () => {
    const orderId = '3f1c2a9e-0b7d-4c1e-9a55-6d2f8e4b7c01';

    const first = await starter.start({ orderId, correlationId: 'c-1', chargeCents: 100 });
    const second = await starter.start({ orderId, correlationId: 'c-2', chargeCents: 100 });

    expect(first).toEqual({ alreadyStarted: false });
    expect(second).toEqual({ alreadyStarted: true });
  });

  test('reports an execution running, then succeeded, and an unknown one as not found', async () => {
    const orderId = '7a0e5d3b-2c4f-4b8a-8e1d-9f6c3a2b1d04';
    await starter.start({ orderId, correlationId: 'c-3', chargeCents: 100 });

    expect(await starter.executionState(orderId)).toBe('RUNNING');
    await vi.waitFor(async () => expect(await starter.executionState(orderId)).toBe('SUCCEEDED'), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await starter.executionState('00000000-0000-4000-8000-000000000000')).toBe('NOT_FOUND');
  });
});

describe('the StartExecution quota of the local endpoint', () => {
  const machine = createLocalStateMachine({
    definition: { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
  });
  let endpoint: LocalStepFunctionsEndpoint;
  let client: SFNClient;
  const usage = new UsageMeter();

  beforeAll(async () => {
    endpoint = await startStepFunctionsEndpoint({
      machine,
      startExecutionQuota: { ratePerSecond: 5, burst: 3 },
      usage,
    });
    // One attempt: the SDK's retries would hide the answer this test reads.
    client = new SFNClient({
      endpoint: endpoint.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await endpoint.close();
  });

  const start = (name: string) =>
    client.send(new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn, name, input: '{}' }));

  test('beyond its burst the real SDK client raises ThrottlingException, as AWS answers it, and nothing starts', async () => {
    const names = Array.from({ length: 4 }, (_, i) => `quota-${i}-${Date.now()}`);

    const outcomes = await Promise.allSettled(names.map(start));

    const throttled = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
    expect(throttled).toHaveLength(1);
    const error = (throttled[0] as PromiseRejectedResult).reason as SFNServiceException;
    expect(error).toBeInstanceOf(SFNServiceException);
    expect(error.name).toBe('ThrottlingException');
    expect(error.message).toBe('Rate exceeded');
    expect(error.$fault).toBe('client');
    expect(error.$metadata.httpStatusCode).toBe(400);
    // The SDK's standard retry strategy sees it as a throttle, as it sees AWS's.
    expect(isThrottlingError(error as Parameters<typeof isThrottlingError>[0])).toBe(true);
    const refused = names[outcomes.findIndex((outcome) => outcome.status === 'rejected')] as string;
    expect(() => machine.describe(refused)).toThrow(ExecutionDoesNotExist);
    expect(usage.snapshot().counts['stepFunctions.startExecutionThrottled']).toBe(1);
  });

  test('the bucket refills at its rate: refused while empty, a start goes through again once a token is back', async () => {
    // Spend whatever the bucket has refilled since the last test.
    for (let spent = 0; spent < 10; spent += 1) {
      const refused = await start(`quota-spend-${randomUUID()}`).then(
        () => false,
        () => true,
      );
      if (refused) break;
    }

    await expect(start(`quota-empty-${randomUUID()}`)).rejects.toMatchObject({ name: 'ThrottlingException' });
    await vi.waitFor(() => start(`quota-refilled-${randomUUID()}`), { timeout: 5_000, interval: 50 });
  });

  test('the saga starter reports a throttle as SagaStartError with the ThrottlingException as its cause', async () => {
    const starter = new StepFunctionsSagaStarter(client, machine.stateMachineArn);
    const orders = Array.from({ length: 5 }, () => randomUUID());

    const outcomes = await Promise.allSettled(
      orders.map((orderId) => starter.start({ orderId, correlationId: 'c', chargeCents: 1 })),
    );

    const refused = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(SagaStartError);
    expect((refused.reason as SagaStartError).cause).toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('TokenBucket', () => {
  test('starts full, refuses when empty, refills at its rate and never beyond its burst', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 4, () => now);

    const first = Array.from({ length: 5 }, () => bucket.take());
    now += 499;
    const tooEarly = bucket.take();
    now += 1;
    const afterHalfASecond = bucket.take();
    now += 60_000;
    const afterALongPause = Array.from({ length: 5 }, () => bucket.take());

    expect(first).toEqual([true, true, true, true, false]);
    expect(tooEarly).toBe(false);
    expect(afterHalfASecond).toBe(true);
    expect(afterALongPause).toEqual([true, true, true, true, false]);
  });

  test('refuses a rate or a burst that is not positive', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 1.5)).toThrow(RangeError);
  });
});
