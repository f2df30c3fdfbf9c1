/** Calls `fail` from a bundle of its own, with no stack-trace mapping of its own (test/unit/stack-traces.test.ts). */
export function callThrough(fail: () => never): never {
  return fail();
}
