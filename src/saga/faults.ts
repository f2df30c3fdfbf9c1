import type { PaymentOperation } from '../payments/gateway.js';

/**
 * A side effect after which the next step still has to happen: a provider call with an effect on
 * money (the saga then writes its record), the commit of a placed order (checkout then starts its
 * saga or hands the start to the buffer) and a saga start made from the buffer (the starter then
 * deletes its message). docs/adr/0019 names the last two.
 */
export type SideEffect = PaymentOperation | 'placeOrder' | 'startExecution';

/**
 * Fault injection for the gap no retry policy can hide: the side effect happened, and what must
 * follow it (the record, the next call) does not. `afterSideEffect` runs right after the side
 * effect succeeded; throwing there is exactly "the record failed", and a process that dies there
 * is a crash between the two.
 *
 * Production never installs one (there is no configuration that does): the local stack, the
 * chaos benchmark and the tests do, to prove that a retried step finds its own side effect at the
 * provider and records it, that compensation decides from the provider's state, and that an order
 * committed by a checkout that then died still gets its saga, once.
 */
export interface SideEffectFaults {
  afterSideEffect(effect: SideEffect, orderId: string): void;
}

/** The default: nothing is injected. */
export const NO_FAULTS: SideEffectFaults = { afterSideEffect() {} };
