import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { prepareLocalBuild, WORKER_BUNDLE } from '../../local/lambda/build.js';
import {
  ContainerPool,
  type ContainerPoolOptions,
  type InvocationRecord,
} from '../../local/lambda/containers.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

describe('function containers: one invocation at a time, per-container state, timeouts', () => {
  let workerBundle: string;
  const pools: ContainerPool[] = [];
  let lines: string[];
  let invocations: InvocationRecord[];

  beforeAll(async () => {
    workerBundle = path.join((await prepareLocalBuild({ progress: () => {} })).bundleDir, WORKER_BUNDLE);
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  function pool(handlerExport: string, options: Partial<ContainerPoolOptions> = {}): ContainerPool {
    lines = [];
    invocations = [];
    const created = new ContainerPool({
      functionName: 'fixture',
      bundle: path.join(FIXTURES, 'container-handlers.mjs'),
      handlerExport,
      environment: { FIXTURE_VARIABLE: 'from the template' },
      execArgv: [],
      timeoutSeconds: 5,
      maxContainers: 2,
      workerBundle,
      log: (line) => lines.push(line),
      onInvocation: (record) => invocations.push(record),
      ...options,
    });
    pools.push(created);
    return created;
  }

  test('a warm container keeps its module state; only the first invocation is a cold start', async () => {
    const fixture = pool('counter');

    const first = (await fixture.invoke({})) as { calls: number; pid: number };
    const second = (await fixture.invoke({})) as { calls: number; pid: number };

    expect(second).toMatchObject({ calls: 2, pid: first.pid });
    expect(invocations.map((record) => record.coldStart)).toEqual([true, false]);
    expect(lines.filter((line) => line.startsWith('INIT_REPORT Init Duration:'))).toHaveLength(1);
  });

  test("the container's environment is the function's, nothing inherited", async () => {
    const result = await pool('counter').invoke({});

    expect(result).toMatchObject({ variable: 'from the template', home: null });
  });

  test('with one container allowed, concurrent invocations wait for it in turn', async () => {
    const fixture = pool('sleep', { maxContainers: 1 });

    const results = (await Promise.all([1, 2, 3].map(() => fixture.invoke({ ms: 50 })))) as { pid: number }[];

    expect(new Set(results.map((result) => result.pid)).size).toBe(1);
    expect(invocations.filter((record) => record.coldStart)).toHaveLength(1);
  });

  test('an invocation past the timeout fails as Lambda reports it and the container is replaced', async () => {
    const fixture = pool('sleep', { timeoutSeconds: 0.2 });

    const timedOut = fixture.invoke({ ms: 5_000 });

    await expect(timedOut).rejects.toMatchObject({
      name: 'Sandbox.Timedout',
      message: 'Task timed out after 0.20 seconds',
    });
    expect(lines.some((line) => line.endsWith('Task timed out after 0.20 seconds'))).toBe(true);
    await fixture.invoke({ ms: 1 });
    expect(invocations.map((record) => record.coldStart)).toEqual([true, true]);
  });

  test("a handler's error keeps its name, the errorType Step Functions matches", async () => {
    await expect(pool('fail').invoke({})).rejects.toMatchObject({
      name: 'OrderNotFoundError',
      message: 'the order is gone',
    });
  });

  test('an unhandled rejection fails the invocation as Runtime.UnhandledPromiseRejection, as Lambda reports it, and ends the container', async () => {
    const fixture = pool('rejectUnhandled', { maxContainers: 1 });

    const crashed = fixture.invoke({});

    await expect(crashed).rejects.toMatchObject({
      name: 'Runtime.UnhandledPromiseRejection',
      message: 'Error: write CONNECTION_CLOSED db.local:5432',
    });
    await expect(fixture.invoke({})).rejects.toMatchObject({ name: 'Runtime.UnhandledPromiseRejection' });
    expect(invocations.map((record) => record.coldStart)).toEqual([true, true]);
  });

  test('a process that exits mid-invocation fails it as Runtime.ExitError with its exit status', async () => {
    const fixture = pool('exitMidInvocation');

    await expect(fixture.invoke({})).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: expect.stringMatching(
        /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$/,
      ),
    });
    expect(lines.some((line) => /container \d+ exited \(code 3\)/.test(line))).toBe(true);
  });

  test("an uncaught exception fails the invocation with the error's own type, as Lambda's runtime reports it", async () => {
    const fixture = pool('throwUncaught', { maxContainers: 1 });

    const first = fixture.invoke({});

    await expect(first).rejects.toMatchObject({
      name: 'TypeError',
      message: 'cannot read properties of undefined',
    });
    await expect(fixture.invoke({})).rejects.toMatchObject({ name: 'TypeError' });
    expect(invocations.map((record) => record.coldStart)).toEqual([true, true]);
  });

  test('a failed INIT fails the invocation with its error and is logged as such', async () => {
    const fixture = pool('handler', { bundle: path.join(FIXTURES, 'init-fails.mjs') });

    await expect(fixture.invoke({})).rejects.toMatchObject({ name: 'ConfigurationError' });
    expect(lines.join('\n')).toMatch(/INIT_REPORT .* Status: error Error Type: ConfigurationError/);
  });
});
