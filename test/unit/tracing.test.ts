import { afterEach, describe, expect, test, vi } from 'vitest';

/**
 * src/runtime/tracing.ts both ways: outside Lambda it changes nothing, inside Lambda (the
 * environment Lambda sets, and an X-Ray daemon address we listen on) it sends annotated
 * subsegments to the daemon.
 */
describe('tracing', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    vi.resetModules();
  });

  const store = {
    async placeOrder(id: string) {
      return { id };
    },
    async fail() {
      throw new Error('database down');
    },
    breakerState() {
      return 'closed';
    },
  };

  test('outside Lambda every helper hands back what it was given', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    const { tracedClient, tracedMethods } = await import('../../src/runtime/tracing.js');
    const client = { send: async () => ({}) };

    expect(tracedClient(client)).toBe(client);
    expect(tracedMethods(store, 'Store')).toBe(store);
  });

  test('outside Lambda the X-Ray SDK is never loaded, so no async hook taxes the process', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;

    await import('../../src/runtime/tracing.js');

    // cls-hooked, which the X-Ray SDK builds on, registers its namespace here when it hooks in.
    const namespaces = (process as { namespaces?: Record<string, unknown> }).namespaces ?? {};
    expect(Object.keys(namespaces)).toEqual([]);
  });
});
