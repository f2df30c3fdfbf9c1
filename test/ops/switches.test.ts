import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type LocalControlPlaneEndpoint,
  type Pausable,
  startLocalControlPlaneEndpoint,
} from '../../local/aws/control-plane-endpoint.js';
import {
  createLocalDynamoDbClient,
  createTable,
  type LocalDynamoDb,
  startLocalDynamoDb,
} from '../../local/aws/dynamodb.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws/local-account.js';
import { pausable } from '../../local/operator-switches.js';
import {
  OPERATOR_CONTROLS_KEY,
  OPERATOR_CONTROLS_SORT_KEY,
  parametersCheckoutSwitch,
} from '../../src/api/checkout-switch.js';
import { readOperatorLog } from '../../tools/ops/operator-log.js';
import { readSwitches, type SwitchControls, setSwitch } from '../../tools/ops/switches.js';

const TABLE = 'operator-controls';
const MAPPING = '0f1e2d3c-4b5a-4697-8877-665544332211';

/** A runner that counts how often it runs: started, it is "polling"; stopped, it is not. */
function countingRunner() {
  let running = 0;
  const runner = pausable(() => {
    running += 1;
    return {
      stop: async () => {
        running -= 1;
      },
    };
  });
  return { runner, running: () => running };
}

describe('kill switches: the Lambda and Scheduler calls, the record, the operator log', () => {
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;
  let endpoint: LocalControlPlaneEndpoint;
  let lambda: LambdaClient;
  let scheduler: SchedulerClient;
  let dataDir: string;
  const worker = countingRunner();
  const sweeper = countingRunner();
  const relay = countingRunner();
  let controls: SwitchControls;

  async function startEndpoint(runners: { worker: Pausable; sweeper: Pausable; relay: Pausable }) {
    return startLocalControlPlaneEndpoint({
      mappings: [
        {
          uuid: MAPPING,
          functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:worker',
          eventSourceArn: 'arn:aws:sqs:us-east-1:123456789012:compensations',
          runner: runners.worker,
        },
      ],
      schedules: [
        { name: 'sweeper', expression: 'rate(2 minutes)', targetArn: 'arn:sweeper', runner: runners.sweeper },
        { name: 'relay', expression: 'rate(1 minute)', targetArn: 'arn:relay', runner: runners.relay },
      ],
      stateFile: path.join(dataDir, 'disabled.json'),
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'switches-'));
    dynamo = await startLocalDynamoDb();
    client = createLocalDynamoDbClient(dynamo.endpoint);
    await createTable(
      client,
      TABLE,
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, KeyType: 'HASH' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, KeyType: 'RANGE' },
      ],
      [
        { AttributeName: OPERATOR_CONTROLS_KEY, AttributeType: 'S' },
        { AttributeName: OPERATOR_CONTROLS_SORT_KEY, AttributeType: 'S' },
      ],
    );
    endpoint = await startEndpoint({ worker: worker.runner, sweeper: sweeper.runner, relay: relay.runner });
    const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: endpoint.endpoint };
    lambda = new LambdaClient(local);
    scheduler = new SchedulerClient(local);
    controls = {
      dynamodb: client,
      tableName: TABLE,
      lambda,
      scheduler,
      workerMappingId: MAPPING,
      jobScheduleNames: ['sweeper', 'relay'],
      whoAmI: async () => 'arn:aws:sts::123456789012:assumed-role/operator/olga',
    };
  });
  afterAll(async () => {
    await endpoint?.close();
    lambda?.destroy();
    scheduler?.destroy();
    client?.destroy();
    await dynamo?.close();
  });

  test('everything starts on, never changed', async () => {
    const switches = await readSwitches(controls);

    expect(switches.map((view) => [view.name, view.state, view.changedBy])).toEqual([
      ['checkout', 'on', null],
      ['worker', 'on', null],
      ['jobs', 'on', null],
    ]);
    expect([worker.running(), sweeper.running(), relay.running()]).toEqual([1, 1, 1]);
  });

  test('worker off disables the mapping and stops its poller; on starts it again; each change recorded', async () => {
    const off = await setSwitch(controls, { name: 'worker', value: 'off', reason: 'provider incident' });
    const pausedRunners = worker.running();
    const whilePaused = await readSwitches(controls);
    await setSwitch(controls, { name: 'worker', value: 'on', reason: 'provider fixed' });

    expect(off).toMatchObject({
      state: 'off',
      changedBy: 'arn:aws:sts::123456789012:assumed-role/operator/olga',
    });
    expect(pausedRunners).toBe(0);
    expect(whilePaused.find((view) => view.name === 'worker')).toMatchObject({
      state: 'off',
      reason: 'provider incident',
      unrecorded: false,
    });
    expect(worker.running()).toBe(1);
    const log = await readOperatorLog(controls, 2);
    expect(log.map((entry) => [entry.action, entry.reason])).toEqual([
      ['switch worker on', 'provider fixed'],
      ['switch worker off', 'provider incident'],
    ]);
  });

  test('jobs off disables both schedules with their whole definition kept; on enables them', async () => {
    await setSwitch(controls, { name: 'jobs', value: 'off', reason: 'database maintenance' });
    const paused = [sweeper.running(), relay.running()];
    const view = (await readSwitches(controls)).find((s) => s.name === 'jobs');
    await setSwitch(controls, { name: 'jobs', value: 'on', reason: '' });

    expect(paused).toEqual([0, 0]);
    expect(view?.state).toBe('off');
    expect([sweeper.running(), relay.running()]).toEqual([1, 1]);
  });

  test("checkout off is the item checkout's Powertools reader sees", async () => {
    const reader = parametersCheckoutSwitch({ client, tableName: TABLE, maxAgeSeconds: 0 });

    await setSwitch(controls, { name: 'checkout', value: 'off', reason: 'bad deploy' });
    const paused = await reader.isPaused();
    await setSwitch(controls, { name: 'checkout', value: 'on', reason: 'rolled back' });

    expect(paused).toBe(true);
    expect(await reader.isPaused()).toBe(false);
  });

  test('the record failing after the change: an error that says so, the list shows it unrecorded, running it again records it', async () => {
    const broken = { ...controls, tableName: 'no-such-table' };

    const failure = await setSwitch(broken, { name: 'worker', value: 'off', reason: 'x' }).catch(
      (e: Error) => e,
    );
    const listed = (await readSwitches(controls)).find((view) => view.name === 'worker');
    await setSwitch(controls, { name: 'worker', value: 'off', reason: 'recorded now' });
    const recorded = (await readSwitches(controls)).find((view) => view.name === 'worker');
    await setSwitch(controls, { name: 'worker', value: 'on', reason: '' });

    expect((failure as Error).message).toMatch(
      /^worker is off, but the change could not be recorded .*: run the same command again to record it$/,
    );
    expect(listed).toMatchObject({ state: 'off', unrecorded: true });
    expect(recorded).toMatchObject({ state: 'off', unrecorded: false, reason: 'recorded now' });
  });

  test('Lambda unreachable: the command fails and nothing is recorded, neither the switch nor the log', async () => {
    const unreachable = new LambdaClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
    });
    const before = await readOperatorLog(controls, 100);

    const failure = await setSwitch(
      { ...controls, lambda: unreachable },
      { name: 'worker', value: 'off', reason: 'x' },
    ).catch((error: Error) => error);

    expect(failure).toBeInstanceOf(Error);
    expect((await readOperatorLog(controls, 100)).length).toBe(before.length);
    expect((await readSwitches(controls)).find((view) => view.name === 'worker')).toMatchObject({
      state: 'on',
      unrecorded: false,
    });
    expect(worker.running()).toBe(1);
    unreachable.destroy();
  });

  test('a worker paused before a restart stays paused after it', async () => {
    await setSwitch(controls, { name: 'worker', value: 'off', reason: 'restart test' });
    await endpoint.close();
    const restartedWorker = countingRunner();
    endpoint = await startEndpoint({
      worker: restartedWorker.runner,
      sweeper: countingRunner().runner,
      relay: countingRunner().runner,
    });
    const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: endpoint.endpoint };
    const restarted = { ...controls, lambda: new LambdaClient(local), scheduler: new SchedulerClient(local) };

    const view = (await readSwitches(restarted)).find((s) => s.name === 'worker');
    await setSwitch(restarted, { name: 'worker', value: 'on', reason: '' });

    expect(view?.state).toBe('off');
    expect(restartedWorker.running()).toBe(1);
    restarted.lambda.destroy();
    restarted.scheduler.destroy();
  });
});
