// Every function logs through this module, which maps their stack traces (src/runtime/stack-traces.ts).
import '../../src/runtime/observability.js';

/** Throws from a line of this file, for test/unit/stack-traces.test.ts to find in the bundle's stack. */
export function fail(reason: string): never {
  throw new Error(`failed: ${reason}`);
}
