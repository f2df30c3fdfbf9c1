import type { PaymentOperation } from '../payments/gateway.js';

/** A provider call with an effect on money, after which the saga writes its record. */
export type SideEffect = PaymentOperation;

/**
 * Fault injection for the one gap no retry policy can hide: the provider did the work, and the
 * database write that records it fails. `afterSideEffect` runs right after a provider call
 * succeeded and before its record is written; throwing there is exactly "the record failed".
 *
 * Production never installs one (there is no configuration that does): the local stack, the
 * chaos benchmark and the tests do, to prove that a retried step finds its own side effect at the
 * provider and records it, and that compensation decides from the provider's state.
 */
export interface SideEffectFaults {
  afterSideEffect(effect: SideEffect, orderId: string): void;
}

/** The default: nothing is injected. */
export const NO_FAULTS: SideEffectFaults = { afterSideEffect() {} };
