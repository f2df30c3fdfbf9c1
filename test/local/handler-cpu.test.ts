import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { prepareLocalBuild, WORKER_BUNDLE } from '../../local/lambda/build.js';
import { ContainerPool, type InvocationRecord } from '../../local/lambda/containers.js';

/**
 * The handler's own CPU, measured inside its container around the handler (what Lambda bills as
 * compute), reported with each invocation apart from its duration: the bench sums it per function
 * and per checkout (docs/capacity.md).
 */
describe("a container reports its handler's own CPU time with each invocation", () => {
  let pool: ContainerPool;
  const invocations: InvocationRecord[] = [];

  beforeAll(async () => {
    const { bundleDir } = await prepareLocalBuild({ progress: () => {} });
    pool = new ContainerPool({
      functionName: 'cpu-fixture',
      bundle: path.join(import.meta.dirname, 'fixtures', 'cpu-handlers.mjs'),
      handlerExport: 'compute',
      environment: {},
      execArgv: [],
      timeoutSeconds: 30,
      maxContainers: 1,
      workerBundle: path.join(bundleDir, WORKER_BUNDLE),
      log: () => {},
      onInvocation: (record) => invocations.push(record),
    });
  });
  afterAll(async () => {
    await pool?.close();
  });

  test('a handler that computes for 50 ms of CPU is reported with at least that much', async () => {
    await pool.invoke({ cpuMs: 5 });
    invocations.length = 0;

    await pool.invoke({ cpuMs: 50 });

    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.cpuMs).toBeGreaterThanOrEqual(50);
  });
});

describe('a handler that only waits', () => {
  let pool: ContainerPool;
  const invocations: InvocationRecord[] = [];

  beforeAll(async () => {
    const { bundleDir } = await prepareLocalBuild({ progress: () => {} });
    pool = new ContainerPool({
      functionName: 'wait-fixture',
      bundle: path.join(import.meta.dirname, 'fixtures', 'cpu-handlers.mjs'),
      handlerExport: 'wait',
      environment: {},
      execArgv: [],
      timeoutSeconds: 30,
      maxContainers: 1,
      workerBundle: path.join(bundleDir, WORKER_BUNDLE),
      log: () => {},
      onInvocation: (record) => invocations.push(record),
    });
  });
  afterAll(async () => {
    await pool?.close();
  });

  test('is billed its duration but reported with less CPU than that', async () => {
    await pool.invoke({ ms: 1 });
    invocations.length = 0;

    await pool.invoke({ ms: 300 });

    const [record] = invocations;
    expect(record?.durationMs).toBeGreaterThanOrEqual(300);
    expect(record?.cpuMs).toBeLessThan(record?.durationMs ?? 0);
  });
});
