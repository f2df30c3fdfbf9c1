import { setTimeout as sleep } from 'node:timers/promises';
import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  GetEventSourceMappingCommand,
  type LambdaClient,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { GetScheduleCommand, type SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import {
  OPERATOR_CONTROLS_KEY,
  OPERATOR_CONTROLS_SORT_KEY,
  SWITCH_VALUE_ATTRIBUTE,
  SWITCHES_PARTITION,
  type SwitchValue,
} from '../../src/api/checkout-switch.js';
import { SWITCH_MAX_AGE_SECONDS } from '../../src/config/budget.js';
import { OpsError } from './errors.js';
import { logEntryItem, type OperatorControlsStore, writeItems } from './operator-log.js';

/**
 * The operators' kill switches (docs/adr/0024-operator-console-and-kill-switches.md), each an
 * AWS-native control:
 * - `checkout`: an item checkout reads through Powertools Parameters (503 CHECKOUT_PAUSED);
 * - `worker`: the compensation worker's event source mapping, disabled (messages wait in the
 *   queue, no receive is made, so none counts towards the DLQ);
 * - `jobs`: the sweeper's and the outbox relay's EventBridge Scheduler schedules, disabled.
 * Every change is recorded in the switches' partition (the switch's last change: who, when, why)
 * and the operator log, in one request.
 */
export const SWITCH_NAMES = ['checkout', 'worker', 'jobs'] as const;
export type SwitchName = (typeof SWITCH_NAMES)[number];

/** What a switch does, for people. */
export const SWITCH_EFFECTS: Readonly<Record<SwitchName, string>> = {
  checkout: 'new checkouts (off: POST /v1/checkout answers 503 CHECKOUT_PAUSED, nothing is written)',
  worker: 'the compensation worker (off: its event source mapping is disabled, messages wait)',
  jobs: 'the sweeper and the outbox relay (off: their schedules are disabled)',
};

/** Everything the switches are made of, for one stage or the local stack. */
export interface SwitchControls extends OperatorControlsStore {
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly scheduler: SchedulerClient;
  readonly workerMappingId: string;
  readonly jobScheduleNames: readonly string[];
  /** The IAM principal acting (STS GetCallerIdentity) or, locally, the user. */
  whoAmI(): Promise<string>;
}

/** A switch as it is now and as it was last recorded. */
export interface SwitchView {
  readonly name: SwitchName;
  /** What AWS says now; `changing` while a mapping is still enabling or disabling. */
  readonly state: SwitchValue | 'changing';
  readonly effect: string;
  readonly changedBy: string | null;
  readonly changedAt: string | null;
  readonly reason: string | null;
  /**
   * The recorded value differs from what AWS says: a change was made outside `ops`, or `ops` died
   * between making it and recording it. Running the switch command again records it.
   */
  readonly unrecorded: boolean;
}

/** How long `switch worker` waits for the mapping to finish enabling or disabling. */
const MAPPING_SETTLE_MS = 120_000;

/** Every switch, its state read from AWS and its last recorded change. */
export async function readSwitches(controls: SwitchControls): Promise<SwitchView[]> {
  const [records, worker, jobs] = await Promise.all([
    readRecords(controls),
    workerState(controls),
    jobsState(controls),
  ]);
  const actual: Record<SwitchName, SwitchView['state']> = {
    checkout: records.get('checkout')?.value ?? 'on',
    worker,
    jobs,
  };
  return SWITCH_NAMES.map((name) => {
    const record = records.get(name);
    const state = actual[name];
    return {
      name,
      state,
      effect: SWITCH_EFFECTS[name],
      changedBy: record?.changedBy ?? null,
      changedAt: record?.changedAt ?? null,
      reason: record?.reason ?? null,
      unrecorded: state !== 'changing' && (record?.value ?? 'on') !== state,
    };
  });
}

/**
 * Turns a switch on or off: makes the change in AWS, waits until it holds, then records it (the
 * switch's item and an operator log entry, in one request). For `checkout` the item is the
 * change, so both are that one request. The change is made first for the others so a record
 * never claims a change that did not happen; if recording fails, the error says so and running
 * the same command again records it (every step is idempotent).
 */
export async function setSwitch(
  controls: SwitchControls,
  change: { readonly name: SwitchName; readonly value: SwitchValue; readonly reason: string },
  progress: (line: string) => void = () => {},
): Promise<SwitchView> {
  const by = await controls.whoAmI();
  if (change.name === 'worker') {
    await controls.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: controls.workerMappingId, Enabled: change.value === 'on' }),
    );
    progress(
      `the compensation worker's event source mapping is ${change.value === 'on' ? 'enabling' : 'disabling'}`,
    );
    await waitForMapping(controls, change.value);
  } else if (change.name === 'jobs') {
    for (const name of controls.jobScheduleNames) {
      const schedule = await controls.scheduler.send(new GetScheduleCommand({ Name: name }));
      // UpdateSchedule replaces the whole definition: everything is sent back but the state.
      await controls.scheduler.send(
        new UpdateScheduleCommand({
          Name: name,
          GroupName: schedule.GroupName,
          ScheduleExpression: schedule.ScheduleExpression,
          ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
          StartDate: schedule.StartDate,
          EndDate: schedule.EndDate,
          Description: schedule.Description,
          KmsKeyArn: schedule.KmsKeyArn,
          Target: schedule.Target,
          FlexibleTimeWindow: schedule.FlexibleTimeWindow,
          ActionAfterCompletion: schedule.ActionAfterCompletion,
          State: change.value === 'on' ? 'ENABLED' : 'DISABLED',
        }),
      );
      progress(`schedule ${name} ${change.value === 'on' ? 'enabled' : 'disabled'}`);
    }
  }
  const at = new Date().toISOString();
  try {
    await writeItems(controls, [
      {
        [OPERATOR_CONTROLS_KEY]: { S: SWITCHES_PARTITION },
        [OPERATOR_CONTROLS_SORT_KEY]: { S: change.name },
        [SWITCH_VALUE_ATTRIBUTE]: { S: change.value },
        changedBy: { S: by },
        changedAt: { S: at },
        reason: { S: change.reason },
      },
      logEntryItem({
        at,
        by,
        action: `switch ${change.name} ${change.value}`,
        reason: change.reason,
        detail: {},
      }),
    ]);
  } catch (error) {
    if (change.name === 'checkout') throw error;
    throw new OpsError(
      `${change.name} is ${change.value}, but the change could not be recorded (${error instanceof Error ? error.message : String(error)}): run the same command again to record it`,
      1,
      { cause: error },
    );
  }
  return {
    name: change.name,
    state: change.value,
    effect: SWITCH_EFFECTS[change.name],
    changedBy: by,
    changedAt: at,
    reason: change.reason,
    unrecorded: false,
  };
}

/** How long until a switch change is felt, for the operator's message. */
export function takesEffect(name: SwitchName, value: SwitchValue): string {
  if (name === 'checkout') {
    return value === 'off'
      ? `new checkouts answer 503 CHECKOUT_PAUSED within ${SWITCH_MAX_AGE_SECONDS} s; orders already placed carry on`
      : `new checkouts are accepted again within ${SWITCH_MAX_AGE_SECONDS} s`;
  }
  if (name === 'worker') {
    return value === 'off'
      ? 'the batch in flight finishes; new compensation messages wait in the queue without being received'
      : 'the worker receives the waiting compensation messages again';
  }
  return value === 'off'
    ? 'no sweep and no outbox relay run is started; a run in progress finishes'
    : 'the sweeper and the outbox relay run on their schedules again';
}

interface SwitchRecord {
  readonly value: SwitchValue;
  readonly changedBy?: string;
  readonly changedAt?: string;
  readonly reason?: string;
}

async function readRecords(controls: SwitchControls): Promise<Map<string, SwitchRecord>> {
  const { Items = [] } = await controls.dynamodb.send(
    new QueryCommand({
      TableName: controls.tableName,
      KeyConditionExpression: '#id = :switches',
      ExpressionAttributeNames: { '#id': OPERATOR_CONTROLS_KEY },
      ExpressionAttributeValues: { ':switches': { S: SWITCHES_PARTITION } },
      ConsistentRead: true,
    }),
  );
  return new Map(
    Items.map((item) => [
      item[OPERATOR_CONTROLS_SORT_KEY]?.S ?? '',
      {
        value: item[SWITCH_VALUE_ATTRIBUTE]?.S === 'off' ? 'off' : 'on',
        ...(item.changedBy?.S ? { changedBy: item.changedBy.S } : {}),
        ...(item.changedAt?.S ? { changedAt: item.changedAt.S } : {}),
        ...(item.reason?.S !== undefined ? { reason: item.reason.S } : {}),
      },
    ]),
  );
}

async function workerState(controls: SwitchControls): Promise<SwitchView['state']> {
  const { State } = await controls.lambda.send(
    new GetEventSourceMappingCommand({ UUID: controls.workerMappingId }),
  );
  if (State === 'Enabled') return 'on';
  if (State === 'Disabled') return 'off';
  return 'changing';
}

async function jobsState(controls: SwitchControls): Promise<SwitchView['state']> {
  const states = await Promise.all(
    controls.jobScheduleNames.map(
      async (Name) => (await controls.scheduler.send(new GetScheduleCommand({ Name }))).State,
    ),
  );
  if (states.every((state) => state === 'ENABLED')) return 'on';
  if (states.every((state) => state === 'DISABLED')) return 'off';
  // One schedule on and one off: a change that stopped half-way. Either switch command finishes it.
  return 'changing';
}

async function waitForMapping(controls: SwitchControls, value: SwitchValue): Promise<void> {
  const deadline = Date.now() + MAPPING_SETTLE_MS;
  for (;;) {
    if ((await workerState(controls)) === value) return;
    if (Date.now() > deadline) {
      throw new OpsError(
        `the compensation worker's event source mapping is still not ${value === 'on' ? 'Enabled' : 'Disabled'} after ${MAPPING_SETTLE_MS / 1000} s; nothing was recorded: check it with npm run ops -- switch list`,
      );
    }
    await sleep(500);
  }
}
