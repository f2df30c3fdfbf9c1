import path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { afterEach, describe, expect, test, vi } from 'vitest';

/**
 * src/runtime/tracing.ts outside Lambda, and what the tracer is made of. Inside Lambda:
 * tracing-lambda.test.ts.
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
  };

  test('outside Lambda every helper hands back what it was given, and an SDK client keeps its middleware stack', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    const { traced, tracedClient, tracedMethods } = await import('../../src/runtime/tracing.js');
    const client = new SQSClient({ region: 'us-east-1' });
    const middleware = client.middlewareStack.identify();

    expect(tracedClient(client)).toBe(client);
    expect(client.middlewareStack.identify()).toEqual(middleware);
    expect(tracedMethods(store, 'Store')).toBe(store);
    expect(traced('work', () => 42)).toBe(42);
    client.destroy();
  });

  test('with tracing turned off in Lambda, the same', async () => {
    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'checkout-test',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    const { tracedClient, tracedMethods } = await import('../../src/runtime/tracing.js');
    const client = new SQSClient({ region: 'us-east-1' });
    const middleware = client.middlewareStack.identify();

    tracedClient(client);

    expect(client.middlewareStack.identify()).toEqual(middleware);
    expect(tracedMethods(store, 'Store')).toBe(store);
    client.destroy();
  });

  test('inside Lambda an SDK client gets one middleware in its build step, the same client', async () => {
    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'checkout-test',
      POWERTOOLS_TRACE_ENABLED: 'true',
    });
    const { tracedClient } = await import('../../src/runtime/tracing.js');
    const client = new SQSClient({ region: 'us-east-1' });
    const before = client.middlewareStack.identify();

    const traced = tracedClient(client);

    expect(traced).toBe(client);
    expect(client.middlewareStack.identify().filter((entry) => !before.includes(entry))).toEqual([
      'xrayTracingMiddleware - build',
    ]);
    client.destroy();
  });

  test('the tracer is its own code on Node built-ins: no package, and no async hook on every promise', async () => {
    const { metafile } = await build({
      entryPoints: [path.resolve(import.meta.dirname, '../../src/runtime/tracing.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });

    const inputs = Object.keys(metafile.inputs);
    const builtIns = new Set(
      Object.values(metafile.inputs).flatMap(({ imports }) =>
        imports.filter((entry) => entry.external).map((entry) => entry.path),
      ),
    );
    expect(inputs.filter((input) => input.includes('node_modules'))).toEqual([]);
    expect([...builtIns].sort()).toEqual(['node:crypto', 'node:dgram', 'node:diagnostics_channel']);
  });
});
