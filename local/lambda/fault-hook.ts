import type { SideEffectFaults } from '../../src/saga/faults.js';

/**
 * Stands in for `src/saga/faults.ts` in local bundles only (local/lambda/build.ts): the saga's
 * default "no faults" asks the faults the container installed under {@link LOCAL_FAULTS}, if any.
 * Deployed bundles are built by CDK from the real module and cannot reach this.
 */
export const LOCAL_FAULTS = Symbol.for('checkout.local.sideEffectFaults');

export const NO_FAULTS: SideEffectFaults = {
  afterSideEffect(effect, orderId) {
    (globalThis as { [LOCAL_FAULTS]?: SideEffectFaults })[LOCAL_FAULTS]?.afterSideEffect(effect, orderId);
  },
};
