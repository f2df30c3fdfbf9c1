import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SideEffect, SideEffectFaults } from '../../src/saga/faults.js';

/** How a planned crash ends a container's process. */
export type CrashKind = 'unhandledRejection' | 'exit';

export interface PlannedCrash {
  readonly orderId: string;
  /** The provider call after whose success the process dies, before its record is written. */
  readonly effect: SideEffect;
  /**
   * `unhandledRejection`: a rejected promise nobody awaits, as postgres.js 3.4.9 left when the
   * database cut a new connection during its catalog query (porsager/postgres#1192, a query
   * src/db/client.ts now turns off); the runtime
   * reports `Runtime.UnhandledPromiseRejection`. `exit`: the process exits (`Runtime.ExitError`).
   */
  readonly kind: CrashKind;
}

const planFile = (folder: string, crash: Pick<PlannedCrash, 'orderId' | 'effect'>) =>
  path.join(folder, `${crash.orderId}.${crash.effect}`);

/** Plans a crash for the containers given `folder` (`ContainerPoolOptions.crashPlans`). */
export function planProcessCrash(folder: string, crash: PlannedCrash): void {
  writeFileSync(planFile(folder, crash), crash.kind);
}

/** Whether a container carried out the crash planned for this order and effect. */
export function crashCarriedOut(folder: string, crash: Pick<PlannedCrash, 'orderId' | 'effect'>): boolean {
  try {
    readFileSync(`${planFile(folder, crash)}.crashed`);
    return true;
  } catch {
    return false;
  }
}

/**
 * A function's process dying mid-invocation, for tests of the saga's retries: a crash planned in
 * `folder` (see {@link planProcessCrash}) ends the container's process right after that provider
 * side effect of that order succeeded. Once only: the container claims the plan (renames it
 * `.crashed`) before it dies, so the Task's retry, in a fresh container, runs normally.
 */
export function processCrashFaults(folder: string): SideEffectFaults {
  return {
    afterSideEffect(effect, orderId) {
      const plan = planFile(folder, { orderId, effect });
      let kind: string;
      try {
        // Atomic: of two containers that reach the same plan, one claims it.
        renameSync(plan, `${plan}.crashed`);
        kind = readFileSync(`${plan}.crashed`, 'utf8');
      } catch {
        return;
      }
      if (kind === 'exit') process.exit(1);
      void Promise.reject(
        new Error(`write CONNECTION_CLOSED (injected: the process dies after ${effect} of order ${orderId})`),
      );
    },
  };
}
