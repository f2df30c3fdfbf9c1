import type { SwitchValue } from '../../src/api/checkout-switch.js';
import type { CommandResult, Progress } from './commands.js';
import { OpsError } from './errors.js';
import { readOperatorLog } from './operator-log.js';
import {
  readSwitches,
  SWITCH_NAMES,
  type SwitchControls,
  type SwitchName,
  setSwitch,
  takesEffect,
} from './switches.js';
import type { OpsTarget } from './target.js';

/** The target's switches, or a one-line error naming what is missing. */
export function controlsOf(target: OpsTarget): SwitchControls {
  if (!target.controls) {
    throw new OpsError(
      `${target.name} has no kill switches yet: deploy the current version (its stacks output OperatorControlsTableName, CompensationWorkerMappingId and JobScheduleNames)`,
    );
  }
  return target.controls;
}

export function isSwitchName(name: string): name is SwitchName {
  return (SWITCH_NAMES as readonly string[]).includes(name);
}

/** `switch list`: every switch, its state now and its last recorded change. */
export async function listSwitches(target: OpsTarget): Promise<CommandResult> {
  const switches = await readSwitches(controlsOf(target));
  const lines = switches.map(
    (view) =>
      `${view.name.padEnd(8)} ${view.state.padEnd(8)} ${view.changedAt ? `changed ${view.changedAt} by ${view.changedBy}${view.reason ? `: ${view.reason}` : ''}` : 'never changed'}${view.unrecorded ? `  (changed outside ops or not recorded: run npm run ops -- switch ${view.name} ${view.state} to record it)` : ''}`,
  );
  return { lines, json: { switches } };
}

/** `switch <name> on|off [--reason "..."]`. */
export async function changeSwitch(
  target: OpsTarget,
  change: { readonly name: SwitchName; readonly value: SwitchValue; readonly reason: string },
  progress: Progress,
): Promise<CommandResult> {
  const view = await setSwitch(controlsOf(target), change, progress);
  return {
    lines: [`${change.name} is ${change.value} in ${target.name}: ${takesEffect(change.name, change.value)}`],
    json: view,
  };
}

/** `log [--limit N]`: the operator log, newest first. */
export async function showOperatorLog(target: OpsTarget, limit: number): Promise<CommandResult> {
  const entries = await readOperatorLog(controlsOf(target), limit);
  const lines =
    entries.length === 0
      ? ['the operator log is empty']
      : entries.map(
          (entry) =>
            `${entry.at}  ${entry.by}  ${entry.action}${Object.keys(entry.detail).length > 0 ? ` ${JSON.stringify(entry.detail)}` : ''}${entry.reason ? `: ${entry.reason}` : ''}`,
        );
  return { lines, json: { entries } };
}
