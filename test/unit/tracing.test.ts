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

  test("the daemon's address (Lambda's form and the two-listener one) and the trace header fields in any order are read", async () => {
    const { daemonUdpAddress, parseTraceHeader } = await import('../../src/runtime/xray.js');

    expect(daemonUdpAddress('169.254.79.129:2000')).toEqual({ host: '169.254.79.129', port: 2000 });
    expect(daemonUdpAddress('tcp:127.0.0.1:2001 udp:127.0.0.2:2002')).toEqual({
      host: '127.0.0.2',
      port: 2002,
    });
    expect(daemonUdpAddress(undefined)).toEqual({ host: '127.0.0.1', port: 2000 });
    expect(() => daemonUdpAddress('localhost')).toThrow(/AWS_XRAY_DAEMON_ADDRESS/);
    expect(
      parseTraceHeader('Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8'),
    ).toEqual({
      root: '1-5759e988-bd862e3fe1be46a994272793',
      parent: '53995c3f42cd8ad8',
      sampled: true,
      extra: '',
    });
    expect(parseTraceHeader('Root=1-5759e988-bd862e3fe1be46a994272793')).toBeUndefined();
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
