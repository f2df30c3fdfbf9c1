import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { prepareLocalBuild, WORKER_BUNDLE } from '../../local/lambda/build.js';
import { ContainerPool, type InvocationRecord } from '../../local/lambda/containers.js';

/**
 * The handler's own CPU, measured inside its container around the handler (what Lambda bills as
 * compute), reported with each invocation apart from its duration: the bench sums it per function
 * and per checkout (docs/capacity.md).
 */
describe("a container reports its handler's own CPU time with each invocation", () => {
  const pools: ContainerPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
  });

  /** A warm container of one fixture handler, and the record of its next invocation. */
  async function warmFixture(handlerExport: 'compute' | 'wait', warmUp: unknown) {
    const { bundleDir } = await prepareLocalBuild({ progress: () => {} });
    const invocations: InvocationRecord[] = [];
    const pool = new ContainerPool({
      functionName: `${handlerExport}-fixture`,
      bundle: path.join(import.meta.dirname, 'fixtures', 'cpu-handlers.mjs'),
      handlerExport,
      environment: {},
      execArgv: [],
      timeoutSeconds: 30,
      maxContainers: 1,
      workerBundle: path.join(bundleDir, WORKER_BUNDLE),
      log: () => {},
      onInvocation: (record) => invocations.push(record),
    });
    pools.push(pool);
    await pool.invoke(warmUp);
    invocations.length = 0;
    return async (event: unknown) => {
      await pool.invoke(event);
      expect(invocations).toHaveLength(1);
      return invocations[0] as InvocationRecord;
    };
  }

  test('a handler that computes for 50 ms of CPU is reported with at least that much', async () => {
    const invoke = await warmFixture('compute', { cpuMs: 5 });

    const record = await invoke({ cpuMs: 50 });

    expect(record.cpuMs).toBeGreaterThanOrEqual(50);
  });

  test('a handler that only waits is billed its duration but reported with less CPU than that', async () => {
    const invoke = await warmFixture('wait', { ms: 1 });

    const record = await invoke({ ms: 300 });

    // libuv counts a timer from the loop's cached clock, in whole milliseconds, so a 300 ms wait
    // can measure up to a millisecond shorter on the precise clock the duration is taken from.
    expect(record.durationMs).toBeGreaterThanOrEqual(299);
    expect(record.cpuMs).toBeLessThan(record.durationMs);
  });
});
