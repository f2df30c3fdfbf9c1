import { appendFileSync } from 'node:fs';
import { DatabaseUnavailableError } from '../src/db/errors.js';
import type { SideEffect, SideEffectFaults } from '../src/saga/faults.js';

/** The side effects that move money; a checkout's commit or a buffered saga start has no record to lose. */
const PAYMENT_SIDE_EFFECTS: ReadonlySet<SideEffect> = new Set(['authorize', 'capture', 'void', 'refund']);

/** One injected "record failed after its side effect", as a line of `injected-faults.jsonl`. */
export interface InjectedRecordFailure {
  readonly at: string;
  readonly effect: SideEffect;
  readonly orderId: string;
}

export const INJECTED_FAULTS_FILE = 'injected-faults.jsonl';

export interface RecordFailureOptions {
  /** Share (0..1) of successful provider side effects whose database record is made to fail. */
  readonly rate: number;
  /** Where each injection is appended as one JSON line (the chaos bench counts them). */
  readonly file: string;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * `LOCAL_FAULT_RECORD_FAILURE_RATE`: after a provider authorize, capture, void or refund
 * succeeded, fail the step as a lost database connection would, before its record is written.
 * The error is the data layer's retryable `DatabaseUnavailableError`, so what follows is what
 * production does after a real blip: the Task retries, finds its side effect at the provider
 * (same idempotency key) and records it.
 */
export function recordFailureFaults(options: RecordFailureOptions): SideEffectFaults {
  const random = options.random ?? Math.random;
  return {
    afterSideEffect(effect, orderId) {
      if (!PAYMENT_SIDE_EFFECTS.has(effect) || random() >= options.rate) return;
      const entry: InjectedRecordFailure = { at: new Date().toISOString(), effect, orderId };
      // Synchronous: the line is on disk before the step fails, whatever happens to the process next.
      appendFileSync(options.file, `${JSON.stringify(entry)}\n`);
      throw new DatabaseUnavailableError(
        `injected fault: the record of ${effect} for order ${orderId} failed`,
      );
    },
  };
}
