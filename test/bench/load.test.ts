import { describe, expect, test } from 'vitest';
import { closedLoopFor, openLoop } from '../../bench/lib/load.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('load generators of the bench', () => {
  test('an open loop sends rate × duration requests whatever the answers take', async () => {
    const run = await openLoop({
      ratePerSecond: 100,
      durationMs: 300,
      maxInFlight: 100,
      task: async (i) => i,
    });

    expect(run.results.map((r) => r.result)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  test('an open loop counts the wait for a free slot in the latency (no coordinated omission)', async () => {
    // One request at a time, each 20 ms, offered every 10 ms: the queue grows by 10 ms a request.
    const run = await openLoop({
      ratePerSecond: 100,
      durationMs: 200,
      maxInFlight: 1,
      task: () => sleep(20),
    });

    const last = run.results.at(-1);
    // Due at 190 ms, served after the 19 before it (at least 380 ms of work): waited at least 190 ms.
    expect(last?.ms).toBeGreaterThanOrEqual(190);
    expect(run.maxInFlightSeen).toBe(1);
  });

  test('a closed loop for a time keeps at most its clients busy and stops sending at the deadline', async () => {
    let inFlight = 0;
    let most = 0;
    const run = await closedLoopFor({
      durationMs: 100,
      concurrency: 3,
      task: async () => {
        most = Math.max(most, ++inFlight);
        await sleep(10);
        inFlight--;
      },
    });

    expect(most).toBe(3);
    expect(run.results.length).toBeGreaterThan(3);
    expect(inFlight).toBe(0);
  });
});
