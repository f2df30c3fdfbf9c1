import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { createLocalStateMachine } from '../../local/aws/step-functions.js';
import {
  type LocalStepFunctionsEndpoint,
  startStepFunctionsEndpoint,
} from '../../local/aws/step-functions-endpoint.js';
import { StepFunctionsSagaStarter } from '../../src/saga/step-functions-starter.js';

describe('local Step Functions endpoint with the real SFN client', () => {
  const machine = createLocalStateMachine({
    definition: {
      StartAt: 'Wait',
      States: { Wait: { Type: 'Wait', Seconds: 1, Next: 'Done' }, Done: { Type: 'Succeed' } },
    },
    waitTimeScale: 0.05,
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
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await starter.executionState(orderId)).toBe('SUCCEEDED');
    expect(await starter.executionState('00000000-0000-4000-8000-000000000000')).toBe('NOT_FOUND');
  });
});
