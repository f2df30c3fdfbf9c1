import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  type LocalControlPlaneEndpoint,
  type LocalEventSourceMapping,
  type LocalSchedule,
  type Pausable,
  startLocalControlPlaneEndpoint,
} from './aws/control-plane-endpoint.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws/local-account.js';
import type { LocalApplication, TemplateEventSourceMapping, TemplateFunction } from './lambda/template.js';

/** Where the local stack keeps which mappings and schedules an operator disabled. */
export const DISABLED_FILE = 'disabled-by-operators.json';

/** What `npm run ops -- switch` needs to find the local stack's switches (in its state file). */
export interface LocalSwitchesState {
  /** Lambda's and EventBridge Scheduler's control planes, for `worker` and `jobs`. */
  readonly controlPlaneEndpoint: string;
  /** DynamoDB (behind the IAM check, which lets operators' keys through), for `checkout` and the log. */
  readonly dynamoDbEndpoint: string;
  readonly operatorControlsTableName: string;
  readonly compensationWorkerMappingId: string;
  readonly jobScheduleNames: readonly string[];
}

/**
 * Something started and stopped again, each start with a fresh instance: a poller, a timer.
 * `stop()` of one never started, or already stopped, does nothing.
 */
export function pausable(start: () => { stop(): Promise<void> }): Pausable {
  let running: { stop(): Promise<void> } | undefined;
  return {
    start() {
      running ??= start();
    },
    async stop() {
      const current = running;
      running = undefined;
      await current?.stop();
    },
  };
}

/**
 * The operators' switches of the local stack (docs/adr/0024-operator-console-and-kill-switches.md):
 * the event source mappings' pollers and the scheduled jobs behind the same Lambda and Scheduler
 * calls as in AWS, started here unless an operator disabled them before the last stop.
 */
export async function startLocalOperatorSwitches(options: {
  readonly app: LocalApplication;
  readonly dataDir: string;
  readonly dynamoDbEndpoint: string;
  /** Each mapping's poller, unstarted. */
  readonly mappings: readonly { readonly mapping: TemplateEventSourceMapping; readonly runner: Pausable }[];
  /** The function a job runs, and its timer, unstarted. */
  readonly jobs: readonly { readonly function: TemplateFunction; readonly runner: Pausable }[];
  /** The entry of the function whose mapping `switch worker` disables. */
  readonly workerEntry: string;
  readonly functionOf: (mapping: TemplateEventSourceMapping) => TemplateFunction;
}): Promise<{ readonly endpoint: LocalControlPlaneEndpoint; readonly state: LocalSwitchesState }> {
  const { app } = options;
  const mappings: LocalEventSourceMapping[] = options.mappings.map(({ mapping, runner }) => ({
    uuid: stableUuid(`${mapping.function.stack}/${mapping.function.logicalId}/${mapping.queue.logicalId}`),
    functionArn: options.functionOf(mapping).arn,
    eventSourceArn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${mapping.queue.name}`,
    runner,
  }));
  const schedules: LocalSchedule[] = options.jobs.map((job) => {
    const schedule = app.schedules.find(
      (s) => s.target.stack === job.function.stack && s.target.logicalId === job.function.logicalId,
    );
    if (!schedule) throw new Error(`the CDK app has no schedule for ${job.function.entry}`);
    return {
      name: schedule.name,
      expression: `rate(${schedule.rateSeconds} seconds)`,
      targetArn: job.function.arn,
      runner: job.runner,
    };
  });
  const worker = options.mappings.findIndex(
    ({ mapping }) => options.functionOf(mapping).entry === options.workerEntry,
  );
  const table = app.tables.find((candidate) => candidate.logicalId.startsWith('OperatorControls'));
  if (worker < 0 || !table)
    throw new Error('the CDK app has no compensation worker mapping or operator controls table');
  const endpoint = await startLocalControlPlaneEndpoint({
    mappings,
    schedules,
    stateFile: path.join(options.dataDir, DISABLED_FILE),
  });
  return {
    endpoint,
    state: {
      controlPlaneEndpoint: endpoint.endpoint,
      dynamoDbEndpoint: options.dynamoDbEndpoint,
      operatorControlsTableName: table.name,
      compensationWorkerMappingId: (mappings[worker] as LocalEventSourceMapping).uuid,
      jobScheduleNames: schedules.map((schedule) => schedule.name),
    },
  };
}

/** A UUID that stays the same across restarts, so what was disabled stays disabled. */
function stableUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
