import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, test, vi } from 'vitest';

/**
 * src/runtime/tracing.ts inside Lambda: the environment Lambda sets (before the X-Ray SDK loads,
 * hence a file of its own) and an X-Ray daemon address this test listens on.
 */
describe('tracing in Lambda', () => {
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

  test('in Lambda each store call is a subsegment with the invocation annotations; results and errors pass through', async () => {
    const daemon: Socket = createSocket('udp4');
    const documents: Record<string, unknown>[] = [];
    daemon.on('message', (message) => {
      const [, body] = message.toString().split('\n');
      if (body) documents.push(JSON.parse(body) as Record<string, unknown>);
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    const { port } = daemon.address();
    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'checkout-test',
      LAMBDA_TASK_ROOT: '/var/task',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      POWERTOOLS_TRACE_ENABLED: 'true',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    });
    try {
      const { annotate, tracedMethods } = await import('../../src/runtime/tracing.js');
      annotate({ orderId: 'o-1', correlationId: 'c-1' });
      const traced = tracedMethods(store, 'Store');

      const placed = await traced.placeOrder('o-1');
      const failed = await traced.fail().catch((error: Error) => error.message);
      const state = traced.breakerState();
      await vi.waitFor(() => expect(documents.length).toBeGreaterThanOrEqual(3), { timeout: 2000 });

      expect(placed).toEqual({ id: 'o-1' });
      expect(failed).toBe('database down');
      expect(state).toBe('closed');
      const byName = new Map(documents.map((document) => [document.name, document]));
      expect(byName.get('Store.placeOrder')).toMatchObject({
        annotations: { orderId: 'o-1', correlationId: 'c-1' },
      });
      expect(byName.get('Store.fail')).toMatchObject({ fault: true });
    } finally {
      daemon.close();
    }
  });
});
